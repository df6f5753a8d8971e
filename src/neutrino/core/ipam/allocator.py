"""Address allocation inside the caller's transaction.

Duplicate addresses are impossible by construction: ``ip_allocations`` has the primary key
(subnet_id, ip_address). Two requests that pick the same free address race on that key;
the loser's transaction is rerun (see ``db.engine.Database.write``) and picks again, seeing
the winner's row. Candidates are drawn at random so that concurrent requests rarely
collide, and only a handful of candidate rows are looked up per allocation: allocating on a
big subnet costs the same with 10 or 10,000 ports. Only a nearly full subnet is scanned.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import constants as const
from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import visibility
from neutrino.core.ipam import subnet_math as sm
from neutrino.db import tables as t

_CANDIDATES = 16
_rng = random.SystemRandom()

ROUTER_INTERFACE_OWNERS = sm.ROUTER_INTERFACE_OWNERS
# Router legs that need an address on every subnet they name, SLAAC ones included.
ROUTER_INTERFACE_OWNERS_SNAT = (*ROUTER_INTERFACE_OWNERS, const.DEVICE_OWNER_ROUTER_SNAT)
# The network's own ports that take the first free address, as Neutron's do (dnsmasq
# and the metadata proxy are then where operators expect them).
PREFER_LOWEST_OWNERS = (const.DEVICE_OWNER_DHCP, const.DEVICE_OWNER_DISTRIBUTED)


@dataclass(slots=True)
class SubnetInfo:
    id: str
    network_id: str
    ip_version: int
    net: sm.IPNetwork
    gateway_ip: str | None
    pools: list[sm.Pool]
    ipv6_address_mode: str | None
    ipv6_ra_mode: str | None
    enable_dhcp: bool = True
    # subnet-service-types: whether it has any (read with the subnet), and which (read
    # by for_owner only when some subnet of the network has them)
    has_service_types: bool = False
    service_types: tuple[str, ...] = ()
    # routed networks (core/ipam/routed.py): the subnet's segment
    segment_id: str | None = None

    @property
    def auto_address(self) -> bool:
        return self.ip_version == 6 and sm.is_auto_address(self.ipv6_ra_mode,
                                                           self.ipv6_address_mode)


# Statements of the port-create path, built once: building a SELECT costs about 0.1 ms
# of CPU, as much as running it (SQLAlchemy caches the compiled form either way).
def subnets_statement(*extra: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """The subnets of network ``:network_id`` with their pools, one row per pool (a
    subnet without pools: one row, pool columns NULL), in the subnets' order; ``extra``
    columns (the same for every row) let a caller fold a question of its own about the
    network into this round trip. Read with :func:`subnets_from_rows`."""
    s, p = t.subnets.c, t.allocation_pools.c
    return (
        sa.select(s.id, s.network_id, s.ip_version, s.cidr, s.gateway_ip, s.enable_dhcp,
                  s.ipv6_address_mode, s.ipv6_ra_mode, s.segment_id, p.first_ip, p.last_ip,
                  sa.exists().where(t.subnet_service_types.c.subnet_id == s.id)
                  .label("has_service_types"), *extra)
        .select_from(t.subnets.outerjoin(t.allocation_pools, p.subnet_id == s.id))
        .where(s.network_id == sa.bindparam("network_id"))
        .order_by(s.created_at, s.id, p.id)
    )


_SUBNETS_OF_NETWORK = subnets_statement()
_TAKEN = sa.select(t.ip_allocations.c.ip_address).where(
    t.ip_allocations.c.subnet_id == sa.bindparam("subnet_id"),
    t.ip_allocations.c.ip_address.in_(sa.bindparam("candidates", expanding=True)),
)
_INSERT_ALLOCATION = sa.insert(t.ip_allocations)


def load_subnets(conn: Connection, network_id: str) -> list[SubnetInfo]:
    return subnets_from_rows(conn.execute(_SUBNETS_OF_NETWORK, {"network_id": network_id}))


def subnets_from_rows(rows: Iterable[Any]) -> list[SubnetInfo]:
    """SubnetInfo of the rows of a :func:`subnets_statement`."""
    out: dict[str, SubnetInfo] = {}
    for r in rows:
        subnet = out.get(r.id)
        if subnet is None:
            subnet = out[r.id] = SubnetInfo(
                r.id, r.network_id, r.ip_version, sm.network(r.cidr), r.gateway_ip, [],
                r.ipv6_address_mode, r.ipv6_ra_mode, bool(r.enable_dhcp),
                bool(getattr(r, "has_service_types", False)), (),
                getattr(r, "segment_id", None))
        if r.first_ip is not None:
            subnet.pools.append(sm.Pool(int(ipaddress.ip_address(r.first_ip)),
                                        int(ipaddress.ip_address(r.last_ip))))
    return list(out.values())


def for_owner(conn: Connection, network_id: str, subnets: list[SubnetInfo],
              device_owner: str) -> list[SubnetInfo]:
    """subnet-service-types, as Neutron's IPAM: the subnets a port of ``device_owner`` may
    take addresses from -- those listing it, those listing nothing, and any subnet with
    DHCP for the DHCP port -- those listing it first. None of the network's subnets
    (when it has some): 409 IpAddressGenerationFailureNoMatchingSubnet."""
    typed = [s.id for s in subnets if s.has_service_types]
    if not typed:
        return subnets  # the usual case: no extra query
    sst = t.subnet_service_types.c
    types: dict[str, set[str]] = {}
    for sid, kind in conn.execute(sa.select(sst.subnet_id, sst.service_type).where(
            sst.subnet_id.in_(typed))):
        types.setdefault(sid, set()).add(kind)
    out = [s for s in subnets if not types.get(s.id) or device_owner in types[s.id]
           or (s.enable_dhcp and device_owner == const.DEVICE_OWNER_DHCP)]
    if subnets and not out:
        raise exc.IpAddressGenerationFailureNoMatchingSubnet(
            network_id=network_id, service_type=device_owner)
    return sorted(out, key=lambda s: not types.get(s.id))


def _taken(conn: Connection, subnet_id: str, candidates: list[str]) -> set[str]:
    return set(conn.scalars(_TAKEN, {"subnet_id": subnet_id, "candidates": candidates}))


def _pick_free(conn: Connection, subnet: SubnetInfo) -> str | None:
    """A random free address of the subnet's pools, or None when they are full."""
    pools = subnet.pools
    total = sum(p.size for p in pools)
    if total == 0:
        return None
    version = subnet.ip_version
    # Fast path: a few random candidates, one query to see which are taken.
    n = min(_CANDIDATES, total)
    picks = set()
    for _ in range(n * 2):
        k = _rng.randrange(total)
        for p in pools:
            if k < p.size:
                picks.add(str(sm.ip_from_int(p.first + k, version)))
                break
            k -= p.size
        if len(picks) >= n:
            break
    cand = list(picks)
    taken = _taken(conn, subnet.id, cand)
    free = [c for c in cand if c not in taken]
    if free:
        return _rng.choice(free)
    # Slow path, only when the pools are nearly full: read what is taken, scan.
    c = t.ip_allocations.c
    allocated = {
        int(ipaddress.ip_address(a))
        for a in conn.scalars(sa.select(c.ip_address).where(c.subnet_id == subnet.id))
    }
    if total > 1 << 20:
        # a huge range that random draws found full is not full; draw more
        for _ in range(1000):
            k = _rng.randrange(pools[0].first, pools[0].last + 1)
            if k not in allocated:
                return str(sm.ip_from_int(k, version))
        return None
    free_ints = [i for p in pools for i in range(p.first, p.last + 1) if i not in allocated]
    if not free_ints:
        return None
    return str(sm.ip_from_int(_rng.choice(free_ints[:256]), version))


def _pick_lowest(conn: Connection, subnet: SubnetInfo) -> str | None:
    """The first free address of the first pool that has one."""
    c = t.ip_allocations.c
    allocated = {
        int(ipaddress.ip_address(a))
        for a in conn.scalars(sa.select(c.ip_address).where(c.subnet_id == subnet.id))
    }
    for p in subnet.pools:
        for value in range(p.first, p.last + 1):
            if value not in allocated:
                return str(sm.ip_from_int(value, subnet.ip_version))
    return None


def _insert(conn: Connection, subnet: SubnetInfo, port_id: str, ip: str) -> None:
    conn.execute(_INSERT_ALLOCATION, {"subnet_id": subnet.id, "ip_address": ip,
                                      "port_id": port_id, "network_id": subnet.network_id})


# One address to allocate: a specific one, any from a subnet, or any from the first of
# several subnets that has one free (an automatic IPv4 / stateful IPv6 address).
Request = tuple[list[SubnetInfo], str | None]


def resolve_fixed_ips(conn: Connection, network_id: str, subnets: list[SubnetInfo],
                      entries: list[dict[str, Any]], device_owner: str, mac: str,
                      caller: Context | None = None) -> list[Request]:
    """Requested fixed_ips entries checked against the network's subnets (Neutron's
    _test_fixed_ips_for_port); each becomes a request. ``caller``: a subnet of another
    network is looked up as it sees subnets (one it may not see is SubnetNotFound, as
    one that does not exist)."""
    by_id = {s.id: s for s in subnets}
    out: list[Request] = []
    for entry in entries:
        sid, ip = entry.get("subnet_id"), entry.get("ip_address")
        if not subnets:
            raise exc.InvalidInput(error_message="IP allocation requires subnets for network")
        if sid is not None:
            subnet = by_id.get(sid)
            if subnet is None:
                lookup = sa.select(t.subnets.c.id).where(t.subnets.c.id == sid)
                if caller is not None and not caller.sees_all:
                    lookup = lookup.where(visibility.subnet_visible_clause(caller))
                exists = conn.scalar(lookup)
                if exists is None:
                    raise exc.SubnetNotFound(subnet_id=sid)
                raise exc.InvalidInput(
                    error_message=f"Failed to create port on network {network_id}, because "
                    f"fixed_ips included invalid subnet {sid}"
                )
            if ip is not None and not sm.check_subnet_ip(subnet.net, ip, device_owner):
                raise exc.InvalidIpForSubnet(ip_address=ip)
        elif ip is None:
            raise exc.InvalidInput(error_message="IP allocation requires subnet_id or "
                                   "ip_address")
        else:
            found = next((s for s in subnets if sm.check_subnet_ip(s.net, ip, device_owner)),
                         None)
            if found is None:
                raise exc.InvalidIpForNetwork(ip_address=ip)
            subnet = found
        if ip is not None:
            # On a SLAAC subnet a port's address is its EUI-64 one; only router legs
            # choose theirs.
            if subnet.auto_address and device_owner not in ROUTER_INTERFACE_OWNERS and \
                    ipaddress.ip_address(ip) != ipaddress.ip_address(sm.eui64(subnet.net, mac)):
                raise exc.AllocationOnAutoAddressSubnet(ip=ip, subnet_id=subnet.id)
            out.append(([subnet], ip))
        elif device_owner in ROUTER_INTERFACE_OWNERS_SNAT or not subnet.auto_address:
            out.append(([subnet], None))
        # (a subnet_id alone on a SLAAC subnet: the automatic EUI-64 pass covers it)
    return out


def automatic(subnets: list[SubnetInfo]) -> list[Request]:
    """fixed_ips not given: one IPv4 address and one stateful IPv6 address, each from
    the first subnet of its family with a free one."""
    out: list[Request] = []
    for version in (4, 6):
        family = [s for s in subnets if s.ip_version == version and not s.auto_address]
        if family:
            out.append((family, None))
    return out


def auto_address_requests(subnets: list[SubnetInfo], device_owner: str,
                          handled: set[str]) -> list[Request]:
    """Every SLAAC / DHCPv6-stateless subnet gives a port its EUI-64 address, whatever
    fixed_ips said (router legs excepted)."""
    if device_owner in ROUTER_INTERFACE_OWNERS_SNAT:
        return []
    return [([s], None) for s in subnets if s.auto_address and s.id not in handled]


def allocate(conn: Connection, *, network_id: str, port_id: str, mac: str,
             requests: list[Request], device_owner: str = "") -> list[dict[str, str]]:
    """Store the addresses of ``requests``: specific ones first (so that an automatic
    choice cannot take an address asked for by the same request), then the others."""
    ordered = [r for r in requests if r[1] is not None] + [r for r in requests if r[1] is None]
    result: list[dict[str, str]] = []
    for candidates, ip in ordered:
        subnet = candidates[0]
        picked = False
        if ip is None and subnet.auto_address:
            ip = sm.eui64(subnet.net, mac)
        elif ip is None:
            for subnet in candidates:
                if device_owner in PREFER_LOWEST_OWNERS:
                    ip = _pick_lowest(conn, subnet)
                else:
                    ip = _pick_free(conn, subnet)
                if ip is not None:
                    break
            if ip is None:
                raise exc.IpAddressGenerationFailure(net_id=network_id)
            picked = True
        # An address we picked was free a statement ago; if a concurrent request took
        # it since, the primary key refuses our row and the transaction is rerun (a
        # lost race, not the caller's 409). Only a requested address is checked here.
        if not picked and _taken(conn, subnet.id, [ip]):
            raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet.id)
        _insert(conn, subnet, port_id, ip)
        result.append({"subnet_id": subnet.id, "ip_address": ip})
    return result


def random_mac(base_mac: str) -> str:
    base = base_mac.split(":")
    octets = [int(base[0], 16), int(base[1], 16), int(base[2], 16)]
    octets += [_rng.randrange(256) for _ in range(3)]
    if base[3] != "00":
        octets[3] = int(base[3], 16)
    return ":".join(f"{o:02x}" for o in octets)
