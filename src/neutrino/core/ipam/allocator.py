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
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.core.ipam import subnet_math as sm
from neutrino.db import tables as t

_CANDIDATES = 16
_rng = random.SystemRandom()

ROUTER_INTERFACE_OWNERS = (
    "network:router_interface",
    "network:ha_router_replicated_interface",
    "network:router_interface_distributed",
)


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

    @property
    def auto_address(self) -> bool:
        return self.ip_version == 6 and sm.is_auto_address(self.ipv6_address_mode)


def load_subnets(conn: Connection, network_id: str) -> list[SubnetInfo]:
    rows = conn.execute(
        sa.select(t.subnets).where(t.subnets.c.network_id == network_id)
        .order_by(t.subnets.c.created_at, t.subnets.c.id)
    ).all()
    if not rows:
        return []
    pools: dict[str, list[sm.Pool]] = {}
    for p in conn.execute(
        sa.select(t.allocation_pools).where(
            t.allocation_pools.c.subnet_id.in_([r.id for r in rows])
        ).order_by(t.allocation_pools.c.id)
    ):
        pools.setdefault(p.subnet_id, []).append(
            sm.Pool(int(ipaddress.ip_address(p.first_ip)), int(ipaddress.ip_address(p.last_ip)))
        )
    return [
        SubnetInfo(r.id, r.network_id, r.ip_version, sm.network(r.cidr), r.gateway_ip,
                   pools.get(r.id, []), r.ipv6_address_mode, r.ipv6_ra_mode)
        for r in rows
    ]


def _taken(conn: Connection, subnet_id: str, candidates: list[str]) -> set[str]:
    c = t.ip_allocations.c
    return set(conn.scalars(
        sa.select(c.ip_address).where(c.subnet_id == subnet_id, c.ip_address.in_(candidates))
    ))


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


def _insert(conn: Connection, subnet: SubnetInfo, port_id: str, ip: str) -> None:
    conn.execute(sa.insert(t.ip_allocations).values(
        subnet_id=subnet.id, ip_address=ip, port_id=port_id, network_id=subnet.network_id
    ))


def _resolve_requests(network_id: str, subnets: list[SubnetInfo], requested: list[dict[str, Any]]
                      ) -> list[tuple[SubnetInfo, str | None]]:
    by_id = {s.id: s for s in subnets}
    out: list[tuple[SubnetInfo, str | None]] = []
    for entry in requested:
        sid, ip = entry.get("subnet_id"), entry.get("ip_address")
        if sid is not None:
            subnet = by_id.get(sid)
            if subnet is None:
                raise exc.InvalidInput(
                    error_message=f"Failed to create port on network {network_id}, because "
                    f"fixed_ips included invalid subnet {sid}"
                )
            if ip is not None and ipaddress.ip_address(ip) not in subnet.net:
                raise exc.InvalidIpForSubnet(ip_address=ip)
        else:
            addr = ipaddress.ip_address(ip)
            matches = [s for s in subnets if addr in s.net]
            if not matches:
                raise exc.InvalidIpForNetwork(ip_address=ip)
            subnet = matches[0]
        if ip is not None and subnet.auto_address:
            raise exc.InvalidInput(
                error_message=f"IPv6 address {ip} cannot be directly assigned to a port on "
                f"subnet {subnet.id} as the subnet is configured for automatic addresses"
            )
        if ip is not None:
            first, last = int(subnet.net.network_address), int(subnet.net.broadcast_address)
            if subnet.ip_version == 4 and subnet.net.prefixlen < 31 and int(
                    ipaddress.ip_address(ip)) in (first, last):
                raise exc.InvalidIpForSubnet(ip_address=ip)
        out.append((subnet, ip))
    seen = set()
    for subnet, ip in out:
        if ip is not None:
            if (subnet.id, ip) in seen:
                raise exc.InvalidInput(error_message=f"Duplicate IP address '{ip}'")
            seen.add((subnet.id, ip))
    return out


def allocate(
    conn: Connection,
    *,
    network_id: str,
    port_id: str,
    mac: str,
    requested: list[dict[str, Any]] | None,
    subnets: list[SubnetInfo],
    device_owner: str = "",
    keep: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> list[dict[str, str]]:
    """Allocate the port's addresses; ``requested`` None means "automatic"."""
    result: list[dict[str, str]] = []
    if requested is None:
        plan: list[tuple[SubnetInfo, str | None]] = []
        for version, _stateful in ((4, True), (6, True)):
            family = [s for s in subnets if s.ip_version == version and not s.auto_address]
            if family:
                plan.append((_first_with_space(conn, family, network_id), None))
        if device_owner not in ROUTER_INTERFACE_OWNERS:
            plan.extend((s, None) for s in subnets if s.auto_address)
    else:
        plan = _resolve_requests(network_id, subnets, requested)
    kept = set(keep)
    for subnet, ip in plan:
        if ip is None:
            if subnet.auto_address:
                ip = sm.eui64(subnet.net, mac)
            else:
                ip = _pick_free(conn, subnet)
                if ip is None:
                    raise exc.IpAddressGenerationFailure(net_id=network_id)
        if (subnet.id, ip) not in kept:
            if _taken(conn, subnet.id, [ip]):
                raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet.id)
            _insert(conn, subnet, port_id, ip)
        result.append({"subnet_id": subnet.id, "ip_address": ip})
    return result


def _first_with_space(conn: Connection, family: list[SubnetInfo], network_id: str
                      ) -> SubnetInfo:
    if len(family) == 1:
        return family[0]
    for s in family:
        if s.pools and sum(p.size for p in s.pools) > _count(conn, s.id):
            return s
    raise exc.IpAddressGenerationFailure(net_id=network_id)


def _count(conn: Connection, subnet_id: str) -> int:
    c = t.ip_allocations.c
    return conn.scalar(sa.select(sa.func.count()).where(c.subnet_id == subnet_id)) or 0


def random_mac(base_mac: str) -> str:
    base = base_mac.split(":")
    octets = [int(base[0], 16), int(base[1], 16), int(base[2], 16)]
    octets += [_rng.randrange(256) for _ in range(3)]
    if base[3] != "00":
        octets[3] = int(base[3], 16)
    return ":".join(f"{o:02x}" for o in octets)
