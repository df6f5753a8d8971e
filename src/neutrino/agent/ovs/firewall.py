"""The ``openvswitch`` firewall driver: security groups as OpenFlow flows on br-int, on OVS
conntrack. Pure: desired firewall state (agent/l2/firewall/model.py, parsed from the same
typed get_host_state reply the Linux bridge agent's firewall reads) + each port's ofport
and local VLAN -> br-int flows of tables 60 and 71-94. Unit-tested without root
(tests/unit/test_ovs_firewall.py); docs/ovs-agent.md describes the pipeline.

Neutron's table numbers and register use, so its operators read the dumps they know
(neutron doc: contributor/internals/openvswitch_firewall):

- 60 TRANSIENT: a packet from a port of ours loads ``reg5`` = its ofport and ``reg6`` = its
  local VLAN (the conntrack zone: one per network, so two projects with the same
  addresses never share connection state) and goes to 71 (filtered) or 73 (not);
  a tagged frame from a patch port to the MAC of a filtered port goes to 81;
- 71 BASE_EGRESS: anti-spoofing (ARP and IP sources from the port's MAC and addresses,
  allowed address pairs included), DHCP client allowed, DHCP server and router
  advertisements from the instance dropped, the rest of its IP traffic to conntrack;
- 72 RULES_EGRESS: the egress rules, for new connections (``+new-est``) and for the
  original direction of established ones (``+est-rel-rpl``); replies and related packets
  of unmarked connections pass; an established connection no rule allows any more gets
  ``ct_mark=1`` and is dropped from then on, both ways (what Neutron does when a rule is
  deleted: its connections stop, not only new ones);
- 73 ACCEPT_OR_INGRESS: to a filtered port of ours -> its ingress (81), else commit new
  connections and switch (NORMAL in 94);
- 81/82 BASE_INGRESS/RULES_INGRESS: the same for the receiving port, ending in
  ``output:<ofport>`` (a tagged frame from a patch port loses its local VLAN in 60);
  91-94 Neutron's integration points (94 holds the NORMAL).

Remote groups are conjunctions: dimension 1 is one flow per member address (and local
VLAN of a port using the rule), dimension 2 the rest of the rule per port. A port joining
a group referenced by rules here adds two flows (new / established) per rule family that
references it, whatever the group's size. Address groups (``remote_address_group_id``)
are the same with the group's CIDRs as dimension 1: an address added or removed is two
flows per rule family. Conjunction ids are derived from what they stand for (remote group
or address group, group, direction, ethertype), so a resync computes the same ids and
``replace-flows`` sends nothing.

Stateless groups (``stateful`` false): the port's packets skip conntrack (71 sends them
straight to 72, 81 to 82), its rules carry no ``ct_state`` and a drop follows them, so a
reply passes only by a rule of its own. Replies of a stateful port of ours go from 72
through 73 (not straight to NORMAL) so that a stateless receiver's rules see them; a new
connection of a stateful sender is committed at the stateless receiver, so the sender
sees the replies as established.
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from neutrino.agent.l2.firewall.model import FirewallState, FwPort, Rule

T_TRANSIENT = 60
T_BASE_EGRESS, T_RULES_EGRESS, T_ACCEPT_OR_INGRESS = 71, 72, 73
T_BASE_INGRESS, T_RULES_INGRESS = 81, 82
T_ACCEPTED_EGRESS, T_ACCEPTED_INGRESS, T_DROPPED, T_EGRESS_NORMAL = 91, 92, 93, 94
ZONE = "zone=NXM_NX_REG6[0..15]"
REG_PORT, REG_NET = "reg5", "reg6"
CT_NEW, CT_EST = "+new-est", "+est-rel-rpl"
P_CONJ, P_RULE = 71, 70  # conjunctive rule flows above plain ones (never the same match)
P_STATELESS_END = 60  # a stateless port's drop after its rules, above the ct_state flows
AG_PREFIX, STATELESS = "ag:", "stateless"  # in conjunction keys
ND_TYPES = (130, 131, 132, 135, 136)  # MLD query/report/done, neighbour solicit/advert
RA = 134
PROTOCOLS = {"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "igp": 9, "udp": 17,
             "dccp": 33, "ipv6-encap": 41, "ipv6-route": 43, "ipv6-frag": 44, "rsvp": 46,
             "gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmpv6": 58,
             "ipv6-nonxt": 59, "ipv6-opts": 60, "ospf": 89, "pgm": 113, "vrrp": 112,
             "l2tp": 115, "sctp": 132, "udplite": 136}
# protocols OVS names (with their ports as tp_dst)
NAMED = {6: ("tcp", "tcp6"), 17: ("udp", "udp6"), 132: ("sctp", "sctp6")}


@dataclass(frozen=True)
class PortWiring:
    """Where a port of ours is: its ofport on br-int and its network's local VLAN."""

    ofport: int
    lvid: int


def port_masks(lo: int, hi: int) -> list[str]:
    """The range lo..hi as value/mask matches (the fewest aligned blocks)."""
    if lo <= 0 and hi >= 65535:
        return []
    if lo == hi:
        return [str(lo)]
    out: list[str] = []
    while lo <= hi:
        size = 1
        while lo % (size * 2) == 0 and lo + size * 2 - 1 <= hi and size < 65536:
            size *= 2
        out.append(str(lo) if size == 1 else f"{lo:#x}/{0xFFFF & ~(size - 1):#x}")
        lo += size
    return out


def _proto_number(rule: Rule) -> int | None:
    p = rule.protocol
    if p in (None, "", "any", "0"):
        return None
    assert p is not None
    n = int(p) if p.isdigit() else PROTOCOLS.get(p)
    if n is None:
        raise ValueError(f"unknown protocol {p!r}")
    if rule.ethertype == "IPv6" and n == 1:
        n = 58  # "icmp" in an IPv6 rule means ICMPv6, as Neutron reads it
    return n


def rule_matches(rule: Rule) -> list[str]:
    """The OpenFlow matches of a rule (without ct_state, registers or remote group): one
    per port-range block. Empty if the rule cannot match (its prefix of the other
    family)."""
    v6 = rule.ethertype == "IPv6"
    prefix = rule.remote_ip_prefix
    if prefix is not None and ipaddress.ip_network(prefix).version != (6 if v6 else 4):
        return []
    n = _proto_number(rule)
    if n is None:
        base = "ipv6" if v6 else "ip"
    elif n in NAMED:
        base = NAMED[n][v6]
    elif n == 58 and v6:
        base = "icmp6"
    elif n == 1 and not v6:
        base = "icmp"
    else:
        base = f"{'ipv6' if v6 else 'ip'},nw_proto={n}"
    if prefix is not None and ipaddress.ip_network(prefix).prefixlen > 0:
        side = "src" if rule.direction == "ingress" else "dst"
        base += f",{'ipv6' if v6 else 'nw'}_{side}={prefix}"
    if n in NAMED and rule.port_range_min is not None:
        hi = rule.port_range_max if rule.port_range_max is not None else rule.port_range_min
        masks = port_masks(rule.port_range_min, hi)
        if masks:
            return [f"{base},tp_dst={m}" for m in masks]
    if n in (1, 58) and rule.port_range_min is not None:
        base += f",icmp_type={rule.port_range_min}"
        if rule.port_range_max is not None:
            base += f",icmp_code={rule.port_range_max}"
    return [base]


def conj_ids(keys: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    """A stable base id per (remote group or ``ag:`` address group, group, direction,
    ethertype[, ``stateless``]): from a hash of the key (so it does not move when other
    keys come or go), probing past collisions in sorted order. The conjunction ids are
    2*base (new connections; a stateless port's only one) and 2*base+1 (established)."""
    out: dict[tuple[str, ...], int] = {}
    used: set[int] = set()
    for key in sorted(set(keys)):
        base = zlib.crc32("/".join(key).encode()) % (1 << 30) or 1
        while base in used:
            base = base % ((1 << 30) - 1) + 1
        used.add(base)
        out[key] = base
    return out


def _lla(mac: str) -> str:
    """The IPv6 link-local address SLAAC gives ``mac`` (modified EUI-64)."""
    b = bytes.fromhex(mac.replace(":", ""))
    eui = bytes([b[0] ^ 0x02, b[1], b[2], 0xFF, 0xFE, b[3], b[4], b[5]])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui))


def _sources(port: FwPort) -> list[tuple[str, str]]:
    """(MAC, address or CIDR) a port may send from: fixed IPs, allowed address pairs,
    the link-local address of its MAC."""
    out = [(port.mac_address, ip) for ip in port.fixed_ips]
    out += [(p.mac_address, p.ip_address) for p in port.allowed_address_pairs]
    if port.mac_address:
        out.append((port.mac_address, _lla(port.mac_address)))
    return list(dict.fromkeys(out))


def _macs(port: FwPort) -> list[str]:
    return list(dict.fromkeys([port.mac_address]
                              + [p.mac_address for p in port.allowed_address_pairs]))


class _Flows:
    """Flows with conjunction actions merged: two rules giving the same match at the same
    priority must be one flow with both actions (OVS keeps one flow per match)."""

    def __init__(self) -> None:
        self.plain: list[str] = []
        self.conj: dict[str, list[str]] = {}

    def add(self, flow: str) -> None:
        self.plain.append(flow)

    def add_conj(self, match: str, action: str) -> None:
        acts = self.conj.setdefault(match, [])
        if action not in acts:
            acts.append(action)

    def lines(self) -> list[str]:
        out = list(dict.fromkeys(self.plain))
        out += [f"{m} actions={','.join(sorted(a))}" for m, a in sorted(self.conj.items())]
        return out


def _fixed_flows() -> list[str]:
    """What every port shares: the ends of each table, conntrack lookups, accept/drop."""
    est = "ct_state=+est-rel+rpl,ct_mark=0"
    rel = "ct_state=-new-est+rel-inv,ct_mark=0"
    mark = f"ct(commit,{ZONE},exec(load:0x1->NXM_NX_CT_MARK[]))"
    return [
        f"table={T_BASE_EGRESS},priority=0 actions=drop",
        f"table={T_RULES_EGRESS},priority=50,ct_state=+inv+trk "
        f"actions=resubmit(,{T_DROPPED})",
        f"table={T_RULES_EGRESS},priority=50,ct_mark=0x1 actions=resubmit(,{T_DROPPED})",
        # replies and related packets go through 73, not straight to NORMAL: to a
        # stateless port of ours they must still meet its ingress rules
        f"table={T_RULES_EGRESS},priority=50,{est} actions=resubmit(,{T_ACCEPT_OR_INGRESS})",
        f"table={T_RULES_EGRESS},priority=50,{rel} actions=resubmit(,{T_ACCEPT_OR_INGRESS})",
        f"table={T_RULES_EGRESS},priority=40,ct_state=-est actions=resubmit(,{T_DROPPED})",
        f"table={T_RULES_EGRESS},priority=40,ct_state=+est,ip actions={mark}",
        f"table={T_RULES_EGRESS},priority=40,ct_state=+est,ipv6 actions={mark}",
        f"table={T_RULES_EGRESS},priority=0 actions=drop",
        f"table={T_ACCEPT_OR_INGRESS},priority=90,ct_state=+new-est,ip "
        f"actions=ct(commit,{ZONE}),resubmit(,{T_ACCEPTED_EGRESS})",
        f"table={T_ACCEPT_OR_INGRESS},priority=90,ct_state=+new-est,ipv6 "
        f"actions=ct(commit,{ZONE}),resubmit(,{T_ACCEPTED_EGRESS})",
        f"table={T_ACCEPT_OR_INGRESS},priority=80 actions=resubmit(,{T_EGRESS_NORMAL})",
        f"table={T_BASE_INGRESS},priority=90,ct_state=-trk,ip "
        f"actions=ct(table={T_RULES_INGRESS},{ZONE})",
        f"table={T_BASE_INGRESS},priority=90,ct_state=-trk,ipv6 "
        f"actions=ct(table={T_RULES_INGRESS},{ZONE})",
        f"table={T_BASE_INGRESS},priority=80,ct_state=+trk "
        f"actions=resubmit(,{T_RULES_INGRESS})",
        f"table={T_BASE_INGRESS},priority=0 actions=drop",
        f"table={T_RULES_INGRESS},priority=50,ct_state=+inv+trk "
        f"actions=resubmit(,{T_DROPPED})",
        f"table={T_RULES_INGRESS},priority=50,ct_mark=0x1 actions=resubmit(,{T_DROPPED})",
        f"table={T_RULES_INGRESS},priority=40,ct_state=-est actions=resubmit(,{T_DROPPED})",
        f"table={T_RULES_INGRESS},priority=40,ct_state=+est,ip actions={mark}",
        f"table={T_RULES_INGRESS},priority=40,ct_state=+est,ipv6 actions={mark}",
        f"table={T_RULES_INGRESS},priority=0 actions=drop",
        f"table={T_ACCEPTED_EGRESS},priority=1 actions=resubmit(,{T_EGRESS_NORMAL})",
        f"table={T_ACCEPTED_INGRESS},priority=0 actions=drop",
        f"table={T_DROPPED},priority=0 actions=drop",
        f"table={T_EGRESS_NORMAL},priority=1 actions=NORMAL",
    ]


def _egress_base(port: FwPort, of: int, stateless: bool) -> list[str]:
    who = f"{REG_PORT}={of:#x},in_port={of}"
    out: list[str] = []
    t = T_BASE_EGRESS
    # a stateless port's packets skip conntrack: straight to its rules
    to_rules = (f"resubmit(,{T_RULES_EGRESS})" if stateless
                else f"ct(table={T_RULES_EGRESS},{ZONE})")
    for mac, addr in _sources(port):
        net = ipaddress.ip_network(addr, strict=False)
        if net.version == 4:
            out.append(f"table={t},priority=95,arp,{who},dl_src={mac},arp_spa={addr} "
                       f"actions=resubmit(,{T_EGRESS_NORMAL})")
            out.append(f"table={t},priority=65,ip,{who},dl_src={mac},nw_src={addr} "
                       f"actions={to_rules}")
        else:
            for icmp_type in ND_TYPES:
                out.append(f"table={t},priority=95,icmp6,{who},dl_src={mac},"
                           f"ipv6_src={addr},icmp_type={icmp_type} "
                           f"actions=resubmit(,{T_EGRESS_NORMAL})")
            out.append(f"table={t},priority=65,ipv6,{who},dl_src={mac},ipv6_src={addr} "
                       f"actions={to_rules}")
    out += [
        # DHCP as a client only: an instance's DHCP server or router advertisements
        # would hijack its neighbours' configuration
        f"table={t},priority=80,udp,{who},tp_src=68,tp_dst=67 "
        f"actions=resubmit(,{T_ACCEPT_OR_INGRESS})",
        f"table={t},priority=80,udp6,{who},tp_src=546,tp_dst=547 "
        f"actions=resubmit(,{T_ACCEPT_OR_INGRESS})",
        f"table={t},priority=70,udp,{who},tp_src=67,tp_dst=68 actions=resubmit(,{T_DROPPED})",
        f"table={t},priority=70,udp6,{who},tp_src=547,tp_dst=546 "
        f"actions=resubmit(,{T_DROPPED})",
        f"table={t},priority=70,icmp6,{who},icmp_type={RA} actions=resubmit(,{T_DROPPED})",
        f"table={t},priority=10,{who} actions=resubmit(,{T_DROPPED})",
    ]
    if stateless:
        # what its rules do not let out is dropped: no conntrack state to fall back on
        out.append(f"table={T_RULES_EGRESS},priority={P_STATELESS_END},{REG_PORT}={of:#x} "
                   f"actions=resubmit(,{T_DROPPED})")
    return out


def _ingress_base(of: int, stateless: bool) -> list[str]:
    out_ = f"output:{of}"
    who = f"{REG_PORT}={of:#x}"
    t = T_BASE_INGRESS
    out = [f"table={t},priority=100,arp,{who} actions={out_}"]
    out += [f"table={t},priority=100,icmp6,{who},icmp_type={x} actions={out_}"
            for x in (*ND_TYPES, RA)]
    out += [f"table={t},priority=95,udp,{who},tp_src=67,tp_dst=68 actions={out_}",
            f"table={t},priority=95,udp6,{who},tp_src=547,tp_dst=546 actions={out_}"]
    if stateless:
        # no conntrack lookup and no "established" shortcut: every packet meets the
        # rules. A new connection of a stateful port of ours (tracked by its egress) is
        # committed here, so that the sender sees the replies as established.
        for fam in ("ip", "ipv6"):
            out += [f"table={t},priority=92,ct_state=+new-est,{fam},{who} "
                    f"actions=ct(commit,{ZONE}),resubmit(,{T_RULES_INGRESS})",
                    f"table={t},priority=91,{fam},{who} actions=resubmit(,{T_RULES_INGRESS})"]
        out.append(f"table={T_RULES_INGRESS},priority={P_STATELESS_END},{who} "
                   f"actions=resubmit(,{T_DROPPED})")
        return out
    out += [f"table={T_RULES_INGRESS},priority=50,ct_state=+est-rel+rpl,ct_mark=0,{who} "
            f"actions={out_}",
            f"table={T_RULES_INGRESS},priority=50,ct_state=-new-est+rel-inv,ct_mark=0,"
            f"{who} actions={out_}"]
    return out


def _accept(direction: str, ct: str | None, of: int) -> str:
    """A rule's action: ``ct`` is the conntrack state the flow matches (CT_NEW, CT_EST)
    or None for a stateless port (nothing committed)."""
    if direction == "egress":
        return f"resubmit(,{T_ACCEPT_OR_INGRESS})"
    if ct == CT_NEW:
        return f"ct(commit,{ZONE}),output:{of}"
    return f"output:{of}"


def _ct(ct: str | None) -> str:
    return f"ct_state={ct}," if ct else ""


def _states(stateless: bool, base: int) -> tuple[tuple[str | None, int], ...]:
    """(ct_state match, conjunction id) pairs of a rule family: new and established
    connections, or for a stateless port one id matching any packet."""
    if stateless:
        return ((None, 2 * base),)
    return ((CT_NEW, 2 * base), (CT_EST, 2 * base + 1))


def _remote_key(rule: Rule, sg: str, stateless: bool) -> tuple[str, ...] | None:
    """The conjunction key of a rule with a remote group or address group (None for a
    plain rule). An address group's id is prefixed so that it never meets a security
    group's; a stateless port's conjunctions (no ct_state) get keys of their own."""
    if rule.remote_group_id:
        remote = rule.remote_group_id
    elif rule.remote_address_group_id:
        remote = AG_PREFIX + rule.remote_address_group_id
    else:
        return None
    key = (remote, sg, rule.direction, rule.ethertype)
    return (*key, STATELESS) if stateless else key


def _members(state: FirewallState, key: tuple[str, ...]) -> tuple[str, ...]:
    """The addresses a conjunction's dimension 1 matches: a remote group's members or
    an address group's CIDRs, of the key's ethertype."""
    remote, ethertype = key[0], key[3]
    if remote.startswith(AG_PREFIX):
        return tuple(state.address_groups.get(remote[len(AG_PREFIX):], {}).get(ethertype, ()))
    return tuple(state.remote_groups.get(remote, {}).get(ethertype, ()))


def plan_firewall(state: FirewallState, wiring: Mapping[str, PortWiring]) -> list[str]:
    """br-int's firewall flows (without the agent's cookie). ``wiring``: port id ->
    ofport and local VLAN, for the ports of ours that are wired (others get no flows).
    Ports not filtered (port security off, network:* owners) still load the registers
    in 60, so that what they send to a filtered port goes through its ingress rules.
    Ports of a stateless group (``stateful`` false) get no conntrack: their rules match
    every packet, both ways, so replies need rules of their own."""
    fl = _Flows()
    for line in _fixed_flows():
        fl.add(line)
    ports = sorted((p for p in state.ports.values() if p.id in wiring), key=lambda p: p.id)
    # conjunction ids and, per conjunction, the local VLANs its dimension 1 must cover
    keys: dict[tuple[str, ...], set[int]] = {}
    for port in ports:
        if not port.filtered:
            continue
        stateless = state.port_stateless(port)
        for sg in port.security_groups:
            for r in state.groups.get(sg, ()):
                key = _remote_key(r, sg, stateless)
                if key is not None:
                    keys.setdefault(key, set()).add(wiring[port.id].lvid)
    ids = conj_ids(keys)
    for port in ports:
        w = wiring[port.id]
        of, lv = w.ofport, w.lvid
        regs = f"load:{of:#x}->NXM_NX_REG5[],load:{lv:#x}->NXM_NX_REG6[]"
        if not port.filtered:
            fl.add(f"table={T_TRANSIENT},priority=100,in_port={of} "
                   f"actions={regs},resubmit(,{T_ACCEPT_OR_INGRESS})")
            continue
        stateless = state.port_stateless(port)
        fl.add(f"table={T_TRANSIENT},priority=100,in_port={of} "
               f"actions={regs},resubmit(,{T_BASE_EGRESS})")
        for mac in _macs(port):
            # the local VLAN comes off here: what reaches 81 is untagged either way
            # (from a patch port tagged, from a local access port never)
            fl.add(f"table={T_TRANSIENT},priority=90,dl_vlan={lv},dl_dst={mac} "
                   f"actions=pop_vlan,{regs},resubmit(,{T_BASE_INGRESS})")
            fl.add(f"table={T_ACCEPT_OR_INGRESS},priority=100,{REG_NET}={lv:#x},"
                   f"dl_dst={mac} actions=load:{of:#x}->NXM_NX_REG5[],"
                   f"resubmit(,{T_BASE_INGRESS})")
        for line in _egress_base(port, of, stateless):
            fl.add(line)
        for line in _ingress_base(of, stateless):
            fl.add(line)
        who = f"{REG_PORT}={of:#x}"
        for sg in sorted(set(port.security_groups)):
            for r in state.groups.get(sg, ()):
                table = T_RULES_EGRESS if r.direction == "egress" else T_RULES_INGRESS
                matches = rule_matches(r)
                key = _remote_key(r, sg, stateless)
                if key is not None:
                    fam = "ipv6" if r.ethertype == "IPv6" else "ip"
                    for ct, cid in _states(stateless, ids[key]):
                        for m in matches:
                            fl.add_conj(f"table={table},priority={P_CONJ},{_ct(ct)}"
                                        f"{m},{who}", f"conjunction({cid},2/2)")
                        if matches:
                            fl.add(f"table={table},priority={P_CONJ},conj_id={cid},"
                                   f"{_ct(ct)}{fam},{who} "
                                   f"actions={_accept(r.direction, ct, of)}")
                    continue
                for ct, _cid in _states(stateless, 0):
                    for m in matches:
                        fl.add(f"table={table},priority={P_RULE},{_ct(ct)}{m},{who} "
                               f"actions={_accept(r.direction, ct, of)}")
    # dimension 1: one flow per member address (address group CIDR) and local VLAN
    for key, base in sorted(ids.items()):
        direction, ethertype = key[2], key[3]
        table = T_RULES_EGRESS if direction == "egress" else T_RULES_INGRESS
        v6 = ethertype == "IPv6"
        field = ("ipv6_" if v6 else "nw_") + ("src" if direction == "ingress" else "dst")
        fam = "ipv6" if v6 else "ip"
        members = _members(state, key)
        for lv in sorted(keys[key]):
            for addr in members:
                for ct, cid in _states(STATELESS in key[4:], base):
                    fl.add_conj(f"table={table},priority={P_CONJ},{_ct(ct)}{fam},"
                                f"{REG_NET}={lv:#x},{field}={addr}",
                                f"conjunction({cid},1/2)")
    return fl.lines()
