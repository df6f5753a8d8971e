"""Network IP availability (network-ip-availability, network-ip-availability-details):
how many addresses each network's subnets offer and how many are taken.

As Neutron counts them: a subnet's ``total_ips`` is the size of its allocation pools (the
gateway and other addresses outside the pools are not "consumable"; a subnet without
pools: its whole range), its ``used_ips`` the addresses allocated on it (any port's, the
router interface's on the gateway address too); a network's are the sums over its
subnets. ``ip_availability_details`` (the -details extension) tells the subnet's range
(less network and broadcast for IPv4) and the pools apart, for totals and used. A
network without subnets is listed with zeros. IPv6 totals are exact integers (a /64's
pool is about 2**64; the JSON encoder takes integers beyond 64 bits, api/app.py).

Read in one transaction, three statements whatever the number of networks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.db import tables as t
from neutrino.db.engine import Database

_n = t.networks.c
_s = t.subnets.c
_ap = t.allocation_pools.c
_a = t.ip_allocations.c

# the query string filters Neutron's extension takes, and the column each compares
FILTERS = {"network_id": _n.id, "network_name": _n.name, "project_id": _n.project_id,
           "tenant_id": _n.project_id, "ip_version": _s.ip_version}


# network-ip-availability-details: the subnets' whole ranges beside their pools
DETAILS = "ip_availability_details"
_DETAIL_KEYS = ("total_ips_in_subnet", "total_ips_in_allocation_pool",
                "used_ips_in_subnet", "used_ips_in_allocation_pool")


def _subnet(r: Any, pools: list[tuple[int, int]], used: list[int]) -> dict[str, Any]:
    """One subnet's figures from its pools (first, last) and allocated addresses."""
    size = ipaddress.ip_network(r.cidr).num_addresses
    in_pools = sum(last - first + 1 for first, last in pools)
    used_in_pools = sum(1 for ip in used for first, last in pools if first <= ip <= last)
    return {
        "subnet_id": r.subnet_id, "subnet_name": r.subnet_name, "cidr": r.cidr,
        "ip_version": r.ip_version,
        # the pools' size; a subnet without pools offers its whole range
        "total_ips": in_pools if pools else size,
        "used_ips": len(used),
        DETAILS: {
            # an IPv4 range less its network and broadcast addresses, as Neutron counts
            "total_ips_in_subnet": size - 2 if r.ip_version == 4 else size,
            "total_ips_in_allocation_pool": in_pools,
            "used_ips_in_subnet": len(used),
            "used_ips_in_allocation_pool": used_in_pools,
        },
    }


class IpAvailabilityService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, filters: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
        return self.db.read(lambda conn: self._availabilities(conn, filters))

    def get(self, network_id: str) -> dict[str, Any]:
        found = self.list({"network_id": [network_id]})
        if not found:
            raise exc.NetworkNotFound(net_id=network_id)
        return found[0]

    @staticmethod
    def _availabilities(conn: Connection, filters: dict[str, Sequence[Any]]
                        ) -> list[dict[str, Any]]:
        where = [FILTERS[k].in_(list(vals)) for k, vals in filters.items() if vals]
        # networks outer-joined to their subnets: a filter on ip_version drops the
        # networks without a subnet of that version, as Neutron's query does
        rows = conn.execute(
            sa.select(_n.id, _n.name, _n.project_id, _s.id.label("subnet_id"),
                      _s.name.label("subnet_name"), _s.cidr, _s.ip_version)
            .select_from(t.networks.outerjoin(t.subnets, _s.network_id == _n.id))
            .where(*where).order_by(_n.id, _s.id)).all()
        subnets = {r.subnet_id: r for r in rows if r.subnet_id}
        pools: dict[str, list[tuple[int, int]]] = {i: [] for i in subnets}
        used: dict[str, list[int]] = {i: [] for i in subnets}
        if subnets:
            ids = sorted(subnets)
            for subnet_id, first, last in conn.execute(
                    sa.select(_ap.subnet_id, _ap.first_ip, _ap.last_ip)
                    .where(_ap.subnet_id.in_(ids))):
                pools[subnet_id].append((int(ipaddress.ip_address(first)),
                                         int(ipaddress.ip_address(last))))
            for subnet_id, address in conn.execute(
                    sa.select(_a.subnet_id, _a.ip_address).where(_a.subnet_id.in_(ids))):
                used[subnet_id].append(int(ipaddress.ip_address(address)))
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            net = out.get(r.id)
            if net is None:
                net = out[r.id] = {
                    "network_id": r.id, "network_name": r.name,
                    "project_id": r.project_id, "tenant_id": r.project_id,
                    "total_ips": 0, "used_ips": 0, "subnet_ip_availability": [],
                    DETAILS: dict.fromkeys(_DETAIL_KEYS, 0)}
            if r.subnet_id is None:
                continue
            sub = _subnet(r, pools[r.subnet_id], used[r.subnet_id])
            net["subnet_ip_availability"].append(sub)
            for key in ("total_ips", "used_ips"):
                net[key] += sub[key]
            for key in _DETAIL_KEYS:
                net[DETAILS][key] += sub[DETAILS][key]
        return list(out.values())
