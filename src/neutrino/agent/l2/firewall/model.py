"""The firewall's desired state: what get_host_state says about security groups.

Parsed from the reply shapes of docs/agent-protocol.md (security-group additions, see
/work/helpers/CONTRACT_SG.md): per port ``port_security_enabled``, ``security_groups``,
``allowed_address_pairs``; top-level ``security_groups`` (rules by group) and
``remote_groups`` (member addresses by group and ethertype).

``FirewallState`` is immutable; ``merge_networks`` / ``merge_groups`` give the state after a
partial reply (some networks, or a security-group hint), the way the L2 agent keeps its last
desired state between full resyncs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from neutrino.agent.linux import names
from neutrino.agent.linux.fdb import normalize_mac
from neutrino.constants import DEVICE_OWNER_NETWORK_PREFIX

ETHERTYPES = ("IPv4", "IPv6")


@dataclass(frozen=True)
class Rule:
    direction: str  # "ingress" | "egress"
    ethertype: str  # "IPv4" | "IPv6"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    id: str = ""


@dataclass(frozen=True)
class AddressPair:
    ip_address: str  # address or CIDR, canonical network text
    mac_address: str


@dataclass(frozen=True)
class FwPort:
    id: str
    device: str  # tap name
    network_id: str
    mac_address: str
    fixed_ips: tuple[str, ...] = ()
    device_owner: str = ""
    # None: the server said nothing about security groups (a server without the
    # extension): the port is not filtered, as with port_security_enabled false.
    port_security_enabled: bool | None = None
    security_groups: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()

    @property
    def filtered(self) -> bool:
        """Neutron: network:* ports (router, DHCP) and ports without port security are not
        filtered at all (no anti-spoofing either)."""
        return bool(self.port_security_enabled) and not self.device_owner.startswith(
            DEVICE_OWNER_NETWORK_PREFIX)


@dataclass(frozen=True)
class FirewallState:
    ports: Mapping[str, FwPort] = field(default_factory=dict)  # by device
    bridges: Mapping[str, str] = field(default_factory=dict)  # network id -> bridge
    groups: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    remote_groups: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def merge_networks(self, new: FirewallState, network_ids: Iterable[str]) -> FirewallState:
        """Self updated by a reply for ``network_ids``: their ports and bridges replaced,
        groups and remote groups the reply carries replaced, unreferenced ones dropped."""
        nets = set(network_ids)
        ports = {d: p for d, p in self.ports.items() if p.network_id not in nets}
        ports.update(new.ports)
        bridges = {n: b for n, b in self.bridges.items() if n not in nets}
        bridges.update(new.bridges)
        groups = {**self.groups, **new.groups}
        remote = {**self.remote_groups, **new.remote_groups}
        return FirewallState(ports, bridges, groups, remote).pruned()

    def merge_groups(self, reply: Mapping[str, Any], group_ids: Iterable[str]) -> FirewallState:
        """Self updated by a security-group-only reply for ``group_ids``."""
        new = parse_groups(reply)
        groups, remote = dict(self.groups), dict(self.remote_groups)
        for gid in group_ids:
            if gid in new.groups:
                groups[gid] = new.groups[gid]
            else:
                groups.pop(gid, None)
            if gid in new.remote_groups:
                remote[gid] = new.remote_groups[gid]
            else:
                remote.pop(gid, None)
        return replace(self, groups=groups, remote_groups=remote).pruned()

    def keep_groups(self, current: FirewallState, group_ids: Iterable[str]) -> FirewallState:
        """Self with the rules and members of ``group_ids`` as ``current`` has them (data
        fetched later than self's)."""
        groups, remote = dict(self.groups), dict(self.remote_groups)
        for gid in group_ids:
            for mine, theirs in ((groups, current.groups), (remote, current.remote_groups)):
                if gid in theirs:
                    mine[gid] = theirs[gid]  # type: ignore[index]
                else:
                    mine.pop(gid, None)
        return FirewallState(self.ports, self.bridges, groups, remote)

    def pruned(self) -> FirewallState:
        """Without groups no port uses and remote groups no used rule references."""
        used = {g for p in self.ports.values() if p.filtered for g in p.security_groups}
        groups = {g: r for g, r in self.groups.items() if g in used}
        referenced = {r.remote_group_id for rules in groups.values() for r in rules
                      if r.remote_group_id}
        remote = {g: m for g, m in self.remote_groups.items() if g in referenced}
        return FirewallState(self.ports, self.bridges, groups, remote)


def _network_text(value: str) -> str:
    return str(ipaddress.ip_network(str(value), strict=False))


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def parse_rule(raw: Mapping[str, Any]) -> Rule:
    direction = str(raw.get("direction") or "")
    ethertype = str(raw.get("ethertype") or "IPv4")
    if direction not in ("ingress", "egress") or ethertype not in ETHERTYPES:
        raise ValueError(f"bad security group rule {raw!r}")
    proto = raw.get("protocol")
    prefix = raw.get("remote_ip_prefix")
    return Rule(
        direction=direction, ethertype=ethertype,
        protocol=str(proto).lower() if proto not in (None, "") else None,
        port_range_min=_int_or_none(raw.get("port_range_min")),
        port_range_max=_int_or_none(raw.get("port_range_max")),
        remote_ip_prefix=_network_text(prefix) if prefix else None,
        remote_group_id=str(raw["remote_group_id"]) if raw.get("remote_group_id") else None,
        id=str(raw.get("id") or ""),
    )


def parse_groups(reply: Mapping[str, Any]) -> FirewallState:
    groups = {str(gid): tuple(parse_rule(r) for r in (g or {}).get("rules") or ())
              for gid, g in (reply.get("security_groups") or {}).items()}
    remote: dict[str, dict[str, tuple[str, ...]]] = {}
    for gid, fams in (reply.get("remote_groups") or {}).items():
        remote[str(gid)] = {
            et: tuple(sorted({_network_text(a) for a in (fams or {}).get(et) or ()}))
            for et in ETHERTYPES}
    return FirewallState(groups=groups, remote_groups=remote)


def parse_port(raw: Mapping[str, Any], network_id: str) -> FwPort:
    port_id = str(raw["id"])
    mac = normalize_mac(raw["mac_address"]) if raw.get("mac_address") else ""
    pairs = tuple(
        AddressPair(_network_text(p["ip_address"]),
                    normalize_mac(p["mac_address"]) if p.get("mac_address") else mac)
        for p in raw.get("allowed_address_pairs") or () if p.get("ip_address"))
    pse = raw.get("port_security_enabled")
    if pse is None and "security_groups" in raw:
        pse = True  # groups given without the flag: Neutron's default
    return FwPort(
        id=port_id,
        device=names.check_device_name(str(raw.get("device") or names.tap_name(port_id))),
        network_id=network_id,
        mac_address=mac,
        fixed_ips=tuple(str(ipaddress.ip_address(f["ip_address"]))
                        for f in raw.get("fixed_ips") or () if f.get("ip_address")),
        device_owner=str(raw.get("device_owner") or ""),
        port_security_enabled=None if pse is None else bool(pse),
        security_groups=tuple(str(g) for g in raw.get("security_groups") or ()),
        allowed_address_pairs=pairs,
    )


def parse_host_state(state: Mapping[str, Any]) -> FirewallState:
    """A get_host_state reply (with its ``networks``) as a FirewallState."""
    ports: dict[str, FwPort] = {}
    bridges: dict[str, str] = {}
    for net in state.get("networks") or ():
        nid = str(net["id"])
        bridges[nid] = names.bridge_name(nid)
        for raw in net.get("ports") or ():
            p = parse_port(raw, nid)
            ports[p.device] = p
    groups = parse_groups(state)
    return FirewallState(ports, bridges, groups.groups, groups.remote_groups).pruned()
