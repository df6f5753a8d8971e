"""Floating IP port forwardings (floating-ip-port-forwarding): the service, its errors
and the queries other L3 code shares (docs/port-forwarding.md)."""
