"""The `homehub` command line."""
