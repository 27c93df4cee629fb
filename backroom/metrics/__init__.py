"""Prometheus metrics: the store's state at scrape time (``views``), and each worker's own (``worker``)."""
