"""The firewall's desired state: what get_host_state says about security groups.

Parsed from the reply shapes of docs/agent-protocol.md (security-group additions, see
/work/helpers/CONTRACT_SG.md): per port ``port_security_enabled``, ``security_groups``,
``allowed_address_pairs``; top-level ``security_groups`` (rules by group) and
``remote_groups`` (member addresses by group and ethertype).

The reply is typed (``neutrino.protocol.linuxbridge``); parsing normalizes it.
``FirewallState`` is immutable; ``merge_networks`` / ``merge_groups`` give the state after a
partial reply (some networks, or a security-group hint), the way the L2 agent keeps its last
desired state between full resyncs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from neutrino.agent.linux import names
from neutrino.agent.linux.fdb import normalize_mac
from neutrino.constants import DEVICE_OWNER_NETWORK_PREFIX
from neutrino.protocol import linuxbridge as lb

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
    remote_address_group_id: str | None = None


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
    # address group id -> ethertype -> CIDRs (security-groups-remote-address-group)
    address_groups: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    # groups whose ``stateful`` is false: their ports' traffic is not tracked
    stateless: frozenset[str] = frozenset()

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
        stateless = (self.stateless - set(new.groups)) | new.stateless
        return FirewallState(ports, bridges, groups, remote,
                             {**self.address_groups, **new.address_groups},
                             frozenset(stateless)).pruned()

    def merge_groups(self, reply: lb.SecurityGroupsState, group_ids: Iterable[str],
                     member_ids: Iterable[str] | None = None) -> FirewallState:
        """Self updated by a security-group-only reply: the rules of ``group_ids`` and the
        members of ``member_ids`` (default: the same groups); the address groups the
        reply carries (those its rules name: their CIDRs as of this reply)."""
        new = parse_groups(reply)
        group_ids = list(group_ids)
        groups = _replaced(self.groups, new.groups, group_ids)
        remote = _replaced(self.remote_groups, new.remote_groups,
                           group_ids if member_ids is None else member_ids)
        stateless = (self.stateless - set(group_ids)) | (new.stateless & set(group_ids))
        return replace(self, groups=groups, remote_groups=remote,
                       address_groups={**self.address_groups, **new.address_groups},
                       stateless=frozenset(stateless)).pruned()

    def keep_groups(self, current: FirewallState, group_ids: Iterable[str],
                    member_ids: Iterable[str] | None = None) -> FirewallState:
        """Self with the rules of ``group_ids`` and the members of ``member_ids`` (default:
        the same groups) as ``current`` has them (data fetched later than self's), and
        the address groups those rules name as ``current`` has them."""
        group_ids = list(group_ids)
        groups = _replaced(self.groups, current.groups, group_ids)
        remote = _replaced(self.remote_groups, current.remote_groups,
                           group_ids if member_ids is None else member_ids)
        named = {r.remote_address_group_id for g in group_ids
                 for r in current.groups.get(g, ()) if r.remote_address_group_id}
        address = {**self.address_groups,
                   **{a: m for a, m in current.address_groups.items() if a in named}}
        stateless = (self.stateless - set(group_ids)) | (current.stateless & set(group_ids))
        return FirewallState(self.ports, self.bridges, groups, remote, address,
                             frozenset(stateless))

    def pruned(self) -> FirewallState:
        """Without groups no port uses and remote groups (address groups) no used rule
        references."""
        used = {g for p in self.ports.values() if p.filtered for g in p.security_groups}
        groups = {g: r for g, r in self.groups.items() if g in used}
        referenced = {r.remote_group_id for rules in groups.values() for r in rules
                      if r.remote_group_id}
        remote = {g: m for g, m in self.remote_groups.items() if g in referenced}
        named = {r.remote_address_group_id for rules in groups.values() for r in rules
                 if r.remote_address_group_id}
        address = {a: m for a, m in self.address_groups.items() if a in named}
        return FirewallState(self.ports, self.bridges, groups, remote, address,
                             frozenset(self.stateless & set(groups)))

    def port_stateless(self, port: FwPort) -> bool:
        """A port in a stateless group (the API refuses mixing stateful and stateless
        groups on a port; should the state still mix them, stateless wins)."""
        return any(g in self.stateless for g in port.security_groups)


V = TypeVar("V")


def _replaced(mine: Mapping[str, V], theirs: Mapping[str, V], ids: Iterable[str]
              ) -> dict[str, V]:
    """``mine`` with the entries of ``ids`` as ``theirs`` has them (or none)."""
    out = dict(mine)
    for gid in ids:
        if gid in theirs:
            out[gid] = theirs[gid]
        else:
            out.pop(gid, None)
    return out


def _network_text(value: str) -> str:
    return str(ipaddress.ip_network(str(value), strict=False))


def parse_rule(raw: lb.Rule) -> Rule:
    if raw.direction not in ("ingress", "egress") or raw.ethertype not in ETHERTYPES:
        raise ValueError(f"bad security group rule {raw!r}")
    proto = raw.protocol
    return Rule(
        direction=raw.direction, ethertype=raw.ethertype,
        protocol=proto.lower() if proto else None,
        port_range_min=raw.port_range_min,
        port_range_max=raw.port_range_max,
        remote_ip_prefix=_network_text(raw.remote_ip_prefix) if raw.remote_ip_prefix
        else None,
        remote_group_id=raw.remote_group_id or None,
        id=raw.id,
        remote_address_group_id=raw.remote_address_group_id or None,
    )


def parse_groups(reply: lb.SecurityGroupsState) -> FirewallState:
    groups = {gid: tuple(parse_rule(r) for r in g.rules)
              for gid, g in reply.security_groups.items()}
    remote: dict[str, dict[str, tuple[str, ...]]] = {}
    for gid, fams in reply.remote_groups.items():
        remote[gid] = {et: tuple(sorted({_network_text(a) for a in fams.get(et) or ()}))
                       for et in ETHERTYPES}
    address: dict[str, dict[str, tuple[str, ...]]] = {}
    for aid, fams in reply.address_groups.items():
        address[aid] = {et: tuple(sorted({_network_text(a) for a in fams.get(et) or ()}))
                        for et in ETHERTYPES}
    stateless = frozenset(gid for gid, g in reply.security_groups.items() if not g.stateful)
    return FirewallState(groups=groups, remote_groups=remote, address_groups=address,
                         stateless=stateless)


def parse_port(raw: lb.Port, network_id: str) -> FwPort:
    mac = normalize_mac(raw.mac_address) if raw.mac_address else ""
    pairs = tuple(
        AddressPair(_network_text(p.ip_address),
                    normalize_mac(p.mac_address) if p.mac_address else mac)
        for p in raw.allowed_address_pairs if p.ip_address)
    pse = raw.port_security_enabled
    if pse is None and raw.security_groups is not None:
        pse = True  # groups given without the flag: Neutron's default
    return FwPort(
        id=raw.id,
        device=names.check_device_name(raw.device or names.tap_name(raw.id)),
        network_id=network_id,
        mac_address=mac,
        fixed_ips=tuple(str(ipaddress.ip_address(f.ip_address))
                        for f in raw.fixed_ips if f.ip_address),
        device_owner=raw.device_owner,
        port_security_enabled=pse,
        security_groups=tuple(raw.security_groups or ()),
        allowed_address_pairs=pairs,
    )


def parse_host_state(state: lb.HostState) -> FirewallState:
    """A get_host_state reply (with its ``networks``) as a FirewallState."""
    ports: dict[str, FwPort] = {}
    bridges: dict[str, str] = {}
    for net in state.networks:
        bridges[net.id] = names.bridge_name(net.id)
        for raw in net.ports:
            p = parse_port(raw, net.id)
            ports[p.device] = p
    groups = parse_groups(state)
    return replace(groups, ports=ports, bridges=bridges).pruned()
