"""Finding the passages that answer a fan's question."""
