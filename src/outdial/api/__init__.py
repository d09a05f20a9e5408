"""HTTP layer shared by every domain: envelopes, the signed-request dependency, error handlers."""
