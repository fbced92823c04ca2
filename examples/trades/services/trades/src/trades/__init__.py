"""trades service."""
