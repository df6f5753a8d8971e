"""Auto-allocation's errors (neutron/services/auto_allocate/exceptions.py)."""

from __future__ import annotations

from neutrino.exceptions import Conflict


class AutoAllocationFailure(Conflict, message="Deployment error: %(reason)s."): ...
class DefaultExternalNetworkExists(Conflict, message=(
    "A default external network already exists: %(net_id)s.")): ...
