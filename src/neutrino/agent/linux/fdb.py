"""The l2population forwarding state of one VXLAN device, and the diff between two states.

Pure data and functions (no kernel access), so the reconcile logic is unit-tested exactly.

A VXLAN device in l2population form carries three kinds of static entries:

- flood entries: ``00:00:00:00:00:00 dst PEER``, one per host that has ports on the segment;
  broadcast, unknown unicast and multicast frames are replicated to every one of them;
- unicast entries: ``MAC dst PEER`` for every remote port, so known unicast goes to one host;
- ARP proxy entries: ``IP lladdr MAC nud permanent`` in the device's neighbour table, from
  which the kernel (``proxy`` flag) answers ARP locally instead of flooding the request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

FLOOD_MAC = "00:00:00:00:00:00"


def normalize_mac(mac: str) -> str:
    """Lower-case, colon-separated, two digits per byte ("FA:16:3E:0:0:1" is fine)."""
    parts = mac.replace("-", ":").split(":")
    if len(parts) != 6:
        raise ValueError(f"{mac!r} is not a MAC address")
    try:
        octets = [int(p, 16) for p in parts]
    except ValueError:
        raise ValueError(f"{mac!r} is not a MAC address") from None
    if any(not 0 <= o <= 255 or not p for o, p in zip(octets, parts, strict=True)):
        raise ValueError(f"{mac!r} is not a MAC address")
    return ":".join(f"{o:02x}" for o in octets)


def normalize_ip(ip: str) -> str:
    """Canonical text of an IPv4/IPv6 address, so "fd00::01" and "fd00::1" compare equal."""
    return str(ipaddress.ip_address(ip))


@dataclass(frozen=True)
class FdbState:
    """What a VXLAN device forwards by: see the module docstring."""

    flood: frozenset[str] = frozenset()  # peer (underlay) IPs
    unicast: Mapping[str, frozenset[str]] = field(default_factory=dict)  # MAC -> peers
    neigh: Mapping[str, str] = field(default_factory=dict)  # IP -> MAC

    @classmethod
    def wanted(cls, flood_peers: Iterable[str] = (), unicast: Mapping[str, str] | None = None,
               neigh: Mapping[str, str] | None = None) -> FdbState:
        """The state an agent wants, normalized (one peer per MAC)."""
        return cls(
            flood=frozenset(normalize_ip(p) for p in flood_peers),
            unicast={normalize_mac(m): frozenset({normalize_ip(p)})
                     for m, p in (unicast or {}).items()},
            neigh={normalize_ip(ip): normalize_mac(m) for ip, m in (neigh or {}).items()},
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FdbState):
            return NotImplemented
        return (self.flood == other.flood and dict(self.unicast) == dict(other.unicast)
                and dict(self.neigh) == dict(other.neigh))

    def __hash__(self) -> int:
        return hash((self.flood, frozenset(self.unicast.items()),
                     frozenset(self.neigh.items())))


@dataclass(frozen=True)
class FdbDiff:
    """The changes that turn one FdbState into another.

    ``unicast_set`` are (MAC, peer) pairs to add or re-point (``bridge fdb replace``);
    ``unicast_del`` are (MAC, peer) pairs to remove, which after a re-point may already be
    gone. Apply in field order: additions before removals, so a port moving between hosts
    is reachable throughout."""

    flood_add: tuple[str, ...] = ()
    unicast_set: tuple[tuple[str, str], ...] = ()
    neigh_set: tuple[tuple[str, str], ...] = ()
    neigh_del: tuple[str, ...] = ()
    unicast_del: tuple[tuple[str, str], ...] = ()
    flood_del: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any((self.flood_add, self.unicast_set, self.neigh_set, self.neigh_del,
                    self.unicast_del, self.flood_del))

    def __len__(self) -> int:
        return (len(self.flood_add) + len(self.unicast_set) + len(self.neigh_set)
                + len(self.neigh_del) + len(self.unicast_del) + len(self.flood_del))


def diff_fdb(current: FdbState, wanted: FdbState) -> FdbDiff:
    """The changes that make ``current`` equal ``wanted``; empty when they already are.

    ``wanted`` comes from FdbState.wanted (one peer per MAC); ``current`` may hold several
    peers for one MAC (entries appended by hand or by an older agent): the extras are
    removed. Output is sorted so the same states always give the same diff."""
    flood_add = tuple(sorted(wanted.flood - current.flood))
    flood_del = tuple(sorted(current.flood - wanted.flood))

    unicast_set: list[tuple[str, str]] = []
    unicast_del: list[tuple[str, str]] = []
    for mac in sorted(set(current.unicast) | set(wanted.unicast)):
        have = current.unicast.get(mac, frozenset())
        want = wanted.unicast.get(mac, frozenset())
        unicast_set.extend((mac, peer) for peer in sorted(want - have))
        unicast_del.extend((mac, peer) for peer in sorted(have - want))

    neigh_set = tuple(sorted((ip, mac) for ip, mac in wanted.neigh.items()
                             if current.neigh.get(ip) != mac))
    neigh_del = tuple(sorted(set(current.neigh) - set(wanted.neigh)))
    return FdbDiff(flood_add=flood_add, unicast_set=tuple(unicast_set), neigh_set=neigh_set,
                   neigh_del=neigh_del, unicast_del=tuple(unicast_del), flood_del=flood_del)
