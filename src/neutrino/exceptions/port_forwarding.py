"""Port forwarding's errors (neutron/services/portforwarding/common/exceptions.py:
names, codes and texts)."""

from __future__ import annotations

from neutrino.exceptions import BadRequest, Conflict, NotFound


class PortForwardingNotFound(NotFound, message=(
    "Port Forwarding %(id)s could not be found.")): ...
class PortForwardingNotSupportFilterField(BadRequest, message=(
    "Port Forwarding filter %(filter)s is not supported.")): ...
class FipInUseByPortForwarding(Conflict, message=(
    "Floating IP %(id)s in use by Port Forwarding resources.")): ...
class PortHasBindingFloatingIP(Conflict, message=(
    "Cannot create port forwarding to floating IP %(floating_ip_address)s (%(fip_id)s) "
    "with port %(port_id)s using fixed IP %(fixed_ip)s, as that port already has a binding "
    "floating IP.")): ...
