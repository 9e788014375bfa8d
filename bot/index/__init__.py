"""The vector index on disk: versioned, checksummed, switched in atomically."""
