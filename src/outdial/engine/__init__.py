"""engine domain."""
