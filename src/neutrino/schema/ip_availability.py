"""network-ip-availabilities (api/ip_availability.py, services/ip_availability.py): how
many addresses each network and subnet holds and uses, for admins."""

from __future__ import annotations

from neutrino.schema.base import Extension

EXTENSIONS = (
    Extension("network-ip-availability", "Network IP Availability",
              "Provides IP availability data for each network and subnet.",
              "2015-09-24T00:00:00-00:00"),
    Extension("network-ip-availability-details", "Network IP Availability Details",
              "Provides IP availability details for each network and subnet.",
              "2024-10-14T00:00:00-00:00"),
)
