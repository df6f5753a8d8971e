"""Subnet pools and address scopes (subnet_allocation, address-scope and friends)."""
