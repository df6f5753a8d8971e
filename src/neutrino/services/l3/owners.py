"""device_owner values of the ports L3 creates (as Neutron's), and which ports L3 takes for
a router's legs."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from neutrino.constants import DEVICE_OWNER_FLOATINGIP as FLOATINGIP  # noqa: F401
from neutrino.constants import DEVICE_OWNER_ROUTER_GW as ROUTER_GATEWAY
from neutrino.constants import DEVICE_OWNER_ROUTER_INTF as ROUTER_INTERFACE

ROUTER_PORT_OWNERS = (ROUTER_INTERFACE, ROUTER_GATEWAY)


def router_leg(port: Any, router: Any) -> sa.ColumnElement[bool]:
    """Whether the port (columns of ports or an alias) is a leg of the router (columns of
    routers): its gateway (the router's gw_port_id, whatever the port says of itself), or
    an interface (device_owner and device_id) of the router's own project — the project
    that may use the router. A port of another project that names the router is not
    plumbed into it (core/port_owner.py refuses to make one; one made before, or by an
    admin, is left out here), so it neither routes through the router nor holds it."""
    return sa.or_(
        port.id == router.gw_port_id,
        sa.and_(port.device_owner == ROUTER_INTERFACE, port.device_id == router.id,
                port.project_id == router.project_id))
