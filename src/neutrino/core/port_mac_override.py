"""port-mac-override: a direct-physical port's MAC comes from the device.

For most ports the MAC flows from the port to the host; a ``direct-physical`` port (a
whole PCI device passed to the instance) has the MAC of that device, which Nova puts in
the binding profile as ``device_mac_address``. As ML2's ``_commit_port_binding``, every
committed binding attempt of such a port (bound or failed, and the activation of an
inactive binding) sets the port's MAC to it, or to a new random one when the profile
has none (the port unbound, or the MAC taken out), so that a port left behind does not
keep the MAC of a device another port may be bound to next.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.core.ipam import allocator
from neutrino.db import tables as t
from neutrino.schema import validators as v

ALIAS = "port-mac-override"
DIRECT_PHYSICAL = "direct-physical"
DEVICE_MAC = "device_mac_address"

_p = t.ports.c


def device_mac(profile: dict[str, Any], base_mac: str) -> str:
    """The MAC a direct-physical port takes: its profile's device_mac_address (in the
    API's canonical form), else a random one. A value that is no MAC counts as none
    (Neutron would store it as given; a port's MAC column only holds valid ones here)."""
    try:
        return v.mac_address(profile.get(DEVICE_MAC)) if profile.get(DEVICE_MAC) \
            else allocator.random_mac(base_mac)
    except ValueError:
        return allocator.random_mac(base_mac)


def commit(conn: Connection, port: dict[str, Any], vnic_type: str,
           profile: dict[str, Any], base_mac: str) -> None:
    """In the transaction committing a binding of ``port`` with this vnic_type and
    profile: a direct-physical port takes its device's MAC (module doc). A MAC another
    port of the network has: 409 MacAddressInUse (the binding is not committed)."""
    if vnic_type != DIRECT_PHYSICAL:
        return
    mac = device_mac(profile, base_mac)
    if mac == port["mac_address"]:
        return
    taken = conn.execute(sa.select(_p.id).where(
        _p.network_id == port["network_id"], _p.mac_address == mac,
        _p.id != port["id"]).limit(1)).first()
    if taken is not None:
        raise exc.MacAddressInUse(net_id=port["network_id"], mac=mac)
    conn.execute(sa.update(t.ports).where(_p.id == port["id"]).values(mac_address=mac))
