"""Prefix arithmetic of subnet pools: compaction, free space, bounds and quota units."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from neutrino.exceptions import subnetpools as errors

Net = ipaddress.IPv4Network | ipaddress.IPv6Network

BITS = {4: 32, 6: 128}
# api-ref: "For IPv4 subnet pools, default is 8. For IPv6 subnet pools, default is 64."
DEFAULT_MIN = {4: 8, 6: 64}


def parse(cidrs: Iterable[str]) -> list[Net]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def version_of(nets: list[Net]) -> int:
    versions = {n.version for n in nets}
    if len(versions) > 1:
        raise errors.PrefixVersionMismatch()
    if not versions:
        raise errors.IllegalSubnetPoolPrefixUpdate(msg="a subnet pool needs prefixes")
    return versions.pop()


def compact(nets: Iterable[Net]) -> list[Net]:
    """Overlapping and adjacent prefixes merged, as Neutron stores a pool's prefixes."""
    nets = list(nets)
    if not nets:
        return []
    return list(ipaddress.collapse_addresses(nets))  # type: ignore[arg-type]


def subtract(have: Iterable[Net], remove: Iterable[Net]) -> list[Net]:
    """The address space of ``have`` without that of ``remove``."""
    free = compact(have)
    for r in remove:
        out: list[Net] = []
        for block in free:
            if block.version != r.version or not block.overlaps(r):
                out.append(block)
            elif r.subnet_of(block):  # type: ignore[arg-type]
                out.extend(block.address_exclude(r))  # type: ignore[arg-type]
            # else: the block lies inside r and goes
        free = out
    return sorted(compact(free))


def covers(outer: Iterable[Net], inner: Net) -> bool:
    """Whether ``inner`` lies in the space of ``outer``."""
    return not subtract([inner], outer)


def check_bounds(version: int, min_len: int, max_len: int, default_len: int) -> None:
    bits = BITS[version]
    if max_len > bits:
        raise errors.IllegalSubnetPoolPrefixBounds(
            prefix_type="max_prefixlen", prefixlen=max_len,
            base_prefix_type="ip_version_max", base_prefixlen=bits)
    if min_len > max_len:
        raise errors.IllegalSubnetPoolPrefixBounds(
            prefix_type="min_prefixlen", prefixlen=min_len,
            base_prefix_type="max_prefixlen", base_prefixlen=max_len)
    if default_len < min_len:
        raise errors.IllegalSubnetPoolPrefixBounds(
            prefix_type="default_prefixlen", prefixlen=default_len,
            base_prefix_type="min_prefixlen", base_prefixlen=min_len)
    if default_len > max_len:
        raise errors.IllegalSubnetPoolPrefixBounds(
            prefix_type="default_prefixlen", prefixlen=default_len,
            base_prefix_type="max_prefixlen", base_prefixlen=max_len)


def quota_units(net: Net) -> int:
    """What a subnet costs of a pool's default_quota: addresses for IPv4, /64s for IPv6."""
    if net.version == 4:
        return int(net.num_addresses)
    return 2 ** max(0, 64 - net.prefixlen)


def first_fit(free: list[Net], prefixlen: int) -> Net | None:
    """The lowest subnet of length ``prefixlen`` in the free space."""
    best: Net | None = None
    for block in free:
        if block.prefixlen <= prefixlen:
            candidate = next(block.subnets(new_prefix=prefixlen))
            if best is None or candidate < best:  # type: ignore[operator]
                best = candidate
    return best
