"""The worker process: claim -> execute -> persist, with heartbeats and reaping."""
