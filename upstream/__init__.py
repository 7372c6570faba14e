"""Clients for the hosted conversation APIs: the only layer that knows their wire formats."""
