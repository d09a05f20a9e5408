"""The fake name service of tests/fake_dns.py, for the network guard's tests."""

from fake_dns import rebinding_dns  # noqa: F401
