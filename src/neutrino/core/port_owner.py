"""Who may make a port part of a router or a floating IP: the device_owner/device_id rules
of ports (Neutron's _enforce_device_owner_not_router_intf_or_device_id, made uniform).

A port whose device_owner is one of the L3 service's (a router's interface or gateway, a
floating IP's port) and whose device_id names a device is that device's leg. A project may
only say so of its own devices: otherwise a member of project B could plumb its network
into project A's router (A's router would route B's subnet, B's floating IPs would go
through it, A could no longer delete it). So, for a caller who is not an admin, such a
device_id must name a router (a floating IP) of the port's own project; anything else is
409 DeviceIDNotOwnedByTenant, as Neutron answers for another project's router.

Neutron lets an id of no router through; here it is refused with the same answer, so that
the answer does not tell another project's router from nothing (a foreign id and a random
one look alike). Admins, and the L3 service's own ports (created as admin), are not held
to this. The L3 side trusts a router's ports only where the router's project may use them
as well (services/l3/owners.py), so a port left from before these rules plumbs nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.db import tables as t

# device_owner values whose device_id names a router (Neutron's ROUTER_INTERFACE_OWNERS,
# and the router's other legs: its SNAT port and its gateway)
ROUTER_DEVICE_OWNERS = (
    "network:router_interface",
    "network:ha_router_replicated_interface",
    "network:router_interface_distributed",
    "network:router_centralized_snat",
    "network:router_gateway",
)
FLOATINGIP_OWNER = "network:floatingip"

# built once: a port create runs it when a router leg is asked for
_ROUTER_OF = sa.select(t.routers.c.id).where(
    t.routers.c.id == sa.bindparam("device"), t.routers.c.project_id == sa.bindparam("project"))
_FLOATINGIP_OF = sa.select(t.floatingips.c.id).where(
    t.floatingips.c.id == sa.bindparam("device"),
    t.floatingips.c.project_id == sa.bindparam("project"))


def check_device(conn: Connection, ctx: Context, project_id: str | None,
                 device_owner: str | None, device_id: str | None) -> None:
    """In the port's write transaction: 409 DeviceIDNotOwnedByTenant unless a port of
    ``project_id`` may be the leg of ``device_id`` as ``device_owner`` says."""
    if ctx.is_admin or not device_id or not device_owner:
        return
    if device_owner in ROUTER_DEVICE_OWNERS:
        stmt = _ROUTER_OF
    elif device_owner == FLOATINGIP_OWNER:
        stmt = _FLOATINGIP_OF
    else:
        return
    if conn.execute(stmt, {"device": device_id, "project": project_id}).first() is None:
        raise exc.DeviceIDNotOwnedByTenant(device_id=device_id)


def check_update(conn: Connection, ctx: Context, row: Any, data: dict[str, Any]) -> None:
    """check_device for a port update that changes its device_owner or device_id: the pair
    as it will be, for the port's own project (as Neutron checks it)."""
    if "device_owner" not in data and "device_id" not in data:
        return
    owner = data.get("device_owner", row.device_owner)
    device = data.get("device_id", row.device_id)
    if owner == row.device_owner and device == row.device_id:
        return
    check_device(conn, ctx, row.project_id, owner, device)
