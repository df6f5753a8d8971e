"""Neutron's port forwarding errors (neutron/services/portforwarding/common/exceptions.py:
names, codes and texts)."""

from __future__ import annotations

from neutrino import exceptions as exc


class PortForwardingNotFound(exc.NotFound):
    message = "Port Forwarding %(id)s could not be found."


class PortForwardingNotSupportFilterField(exc.BadRequest):
    message = "Port Forwarding filter %(filter)s is not supported."


class FipInUseByPortForwarding(exc.Conflict):
    message = "Floating IP %(id)s in use by Port Forwarding resources."


class PortHasBindingFloatingIP(exc.Conflict):
    message = ("Cannot create port forwarding to floating IP %(floating_ip_address)s "
               "(%(fip_id)s) with port %(port_id)s using fixed IP %(fixed_ip)s, as that "
               "port already has a binding floating IP.")


def bad(msg: str) -> exc.BadRequest:
    return exc.BadRequest(resource="port_forwarding", msg=msg)
