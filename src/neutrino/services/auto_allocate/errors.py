"""Neutron's auto-allocation errors (neutron/services/auto_allocate/exceptions.py)."""

from __future__ import annotations

from neutrino import exceptions as exc


class AutoAllocationFailure(exc.Conflict):
    message = "Deployment error: %(reason)s."


class DefaultExternalNetworkExists(exc.Conflict):
    message = "A default external network already exists: %(net_id)s."
