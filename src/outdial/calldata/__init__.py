"""calldata domain."""
