"""Tenants: API keys bound to VDNs, replay protection, per-VDN settings and skill queues."""
