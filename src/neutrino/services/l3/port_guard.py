"""What L3 asks of the core's port deletes (an internal mechanism driver, in the chain
after the configured ones, like services/agent_notifier.py):

- a router's gateway or interface port, or a floating IP's port, is deleted through its
  router or floating IP, never through /ports (409 L3PortInUse, as Neutron's
  prevent_l3_port_deletion) — unless the L3 service itself deletes it;
- deleting a port that floating IPs are associated with disassociates them (they stay,
  DOWN, port_id null) and their routers' agent hears of it;
- deleting a port, or taking from it the address a port forwarding targets, deletes those
  port forwardings (services/portforwarding/rows.py);
- a router interface's IPv4 addresses do not change through /ports (400
  IPAddressChangeNotAllowed, l3-port-ip-change-not-allowed).
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable, Iterable

import sqlalchemy as sa

from neutrino import exceptions as exc
from neutrino.core.mech.base import DriverContext, MechanismDriver
from neutrino.db import tables as t
from neutrino.services.l3.floatingips import FloatingIPService
from neutrino.services.l3.owners import (
    FLOATINGIP,
    ROUTER_INTERFACE,
    ROUTER_PORT_OWNERS,
    router_leg,
)
from neutrino.services.portforwarding import rows as pf_rows


class IPAddressChangeNotAllowed(exc.BadRequest):
    message = "IP updates for port %(port_id)s are not allowed"


def _v4(addresses: set[str | None]) -> set[str]:
    return {a for a in addresses if a and ipaddress.ip_address(a).version == 4}


class L3PortGuard(MechanismDriver):
    name = "l3-port-guard"  # internal: not loaded by [ml2] mechanism_drivers

    def __init__(self, conf: object, notify: Callable[[Iterable[str]], None]) -> None:
        super().__init__(conf)  # type: ignore[arg-type]
        self.notify = notify  # L3Scheduler.notify

    def delete_port_precommit(self, ctx: DriverContext) -> None:
        conn = ctx.conn
        if conn is None or ctx.notes.get("l3_owner"):
            return
        port = ctx.current
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
        ctx.notes["l3_routers"] = sorted(
            {*FloatingIPService.disassociate_port(conn, port["id"]),
             *pf_rows.remove_for_port(conn, port["id"])})

    def update_port_precommit(self, ctx: DriverContext) -> None:
        """A port that loses the address a port forwarding targets loses the forwarding
        (Neutron's pf plugin, on the port's update)."""
        conn, original = ctx.conn, ctx.original
        if conn is None or original is None:
            return
        before = {ip.get("ip_address") for ip in original.get("fixed_ips") or []}
        after = {ip.get("ip_address") for ip in ctx.current.get("fixed_ips") or []}
        if before != after and original.get("device_owner") == ROUTER_INTERFACE and \
                _v4(before) != _v4(after) and conn.execute(sa.select(t.routers.c.id).where(
                    t.routers.c.id == original.get("device_id"))).first() is not None:
            # l3-port-ip-change-not-allowed: a router interface's IPv4 addresses are the
            # router's to change (add/remove_router_interface), as Neutron's IPAM says
            raise IPAddressChangeNotAllowed(port_id=original["id"])
        if before != after:
            routers = pf_rows.remove_for_port(conn, ctx.current["id"],
                                              keep=[a for a in after if a])
            if routers:
                ctx.notes["l3_routers"] = routers

    def update_port_postcommit(self, ctx: DriverContext) -> None:
        self.delete_port_postcommit(ctx)

    def delete_port_postcommit(self, ctx: DriverContext) -> None:
        routers = ctx.notes.get("l3_routers")
        if routers:
            with contextlib.suppress(Exception):  # a lost hint is a resync later
                self.notify(routers)
