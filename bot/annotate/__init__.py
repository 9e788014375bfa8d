"""Index-time annotation: what is decided once per passage when an index is built (spoiler flags)."""
