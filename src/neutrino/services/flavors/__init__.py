"""Flavors, service profiles and service providers (extensions flavors, service-type,
l3-flavors)."""
