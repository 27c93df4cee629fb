"""What a job is, whatever store keeps it: its states and records, its JSON, how one is built."""
