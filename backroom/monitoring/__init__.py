"""How a store is doing, judged once for the dashboard, metrics and ``backroom status`` alike."""
