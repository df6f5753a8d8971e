"""What L3 asks of the core's port writes (subscribers of PORT PRECOMMIT_DELETE,
AFTER_DELETE and PRECOMMIT_UPDATE, core/callbacks.py):

- a router's gateway or interface port, or a floating IP's port, is deleted through its
  router or floating IP, never through /ports (409 L3PortInUse, as Neutron's
  prevent_l3_port_deletion) — unless the L3 service itself deletes it;
- deleting a port that floating IPs are associated with disassociates them (they stay,
  DOWN, port_id null) and their routers' agent hears of it;
- a router interface's IPv4 addresses do not change through /ports (400
  IPAddressChangeNotAllowed, l3-port-ip-change-not-allowed).

Port forwardings to a deleted port or a removed address: the port_forwarding plugin's
own subscribers (services/portforwarding/plugin.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from neutrino import exceptions as exc
from neutrino.core.callbacks import CallbackRegistry, Event, Payload, Resource
from neutrino.db import tables as t
from neutrino.services.l3.floatingips import FloatingIPService
from neutrino.services.l3.owners import (
    FLOATINGIP,
    ROUTER_INTERFACE,
    ROUTER_PORT_OWNERS,
    router_leg,
)


def _v4(addresses: set[str | None]) -> set[str]:
    return {a for a in addresses if a and ipaddress.ip_address(a).version == 4}


def fixed_addresses(port: dict[str, Any] | None) -> set[str | None]:
    return {ip.get("ip_address") for ip in (port or {}).get("fixed_ips") or []}


class L3PortGuard:
    def __init__(self, registry: CallbackRegistry,
                 notify: Callable[[Iterable[str]], None]) -> None:
        self.notify = notify  # L3Scheduler.notify
        registry.subscribe(self.deleting, Resource.PORT, Event.PRECOMMIT_DELETE)
        registry.subscribe(self.deleted, Resource.PORT, Event.AFTER_DELETE)
        registry.subscribe(self.updating, Resource.PORT, Event.PRECOMMIT_UPDATE)

    def deleting(self, resource: Resource, event: Event, trigger: Any, p: Payload) -> None:
        conn = p.conn
        if conn is None or p.metadata.get("l3_owner"):
            return
        port = p.latest_state
        owner, device_id = port.get("device_owner") or "", port.get("device_id") or ""
        in_use = False
        if owner in ROUTER_PORT_OWNERS and device_id:
            # only a leg the router takes for its own holds it (owners.router_leg)
            ports = t.ports.c
            in_use = conn.execute(sa.select(t.routers.c.id).select_from(t.ports).join(
                t.routers, t.routers.c.id == device_id).where(
                ports.id == port["id"], router_leg(ports, t.routers.c))
            ).first() is not None
        elif owner == FLOATINGIP:
            in_use = conn.execute(sa.select(t.floatingips.c.id).where(
                t.floatingips.c.floating_port_id == port["id"])).first() is not None
        if in_use:
            raise exc.L3PortInUse(port_id=port["id"], device_owner=owner)
        p.metadata["l3_routers"] = FloatingIPService.disassociate_port(conn, port["id"])

    def deleted(self, resource: Resource, event: Event, trigger: Any, p: Payload) -> None:
        routers = p.metadata.get("l3_routers")
        if routers:  # (a failure is logged: a lost hint is a resync later)
            self.notify(routers)

    def updating(self, resource: Resource, event: Event, trigger: Any, p: Payload) -> None:
        """l3-port-ip-change-not-allowed: a router interface's IPv4 addresses are the
        router's to change (add/remove_router_interface), as Neutron's IPAM says."""
        conn = p.conn
        if conn is None or len(p.states) < 2:
            return
        original, current = p.states[0], p.states[-1]
        if original.get("device_owner") != ROUTER_INTERFACE:
            return
        if _v4(fixed_addresses(original)) != _v4(fixed_addresses(current)) and \
                conn.execute(sa.select(t.routers.c.id).where(
                    t.routers.c.id == original.get("device_id"))).first() is not None:
            raise exc.IPAddressChangeNotAllowed(port_id=original["id"])
