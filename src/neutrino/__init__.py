"""neutrino: network-as-a-service for Linux hosts, speaking the Neutron v2.0 API."""

__version__ = "0.1.0"
