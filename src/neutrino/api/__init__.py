"""The Neutron v2.0 HTTP API."""
