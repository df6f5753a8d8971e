"""Security groups as an nftables ruleset: a pure function of the desired state.

Why this structure (measured on the kernel of /work/shared/PLATFORM.md; see also the
package docstring of ``neutrino.agent.l2.firewall``):

- The kernel has no conntrack in the ``bridge`` family, so stateful rules live in an
  ``inet`` table whose hooks bridged IPv4/IPv6 packets reach through br_netfilter
  (``net.bridge.bridge-nf-call-ip{,6}tables = 1`` in the host namespace). There ``iifname``
  and ``oifname`` are the *bridge*, not the tap, so a ``bridge`` table tells the inet table
  which ports a packet uses through the packet mark:
  - bridge prerouting (priority -300, before br_netfilter's own hook at 0): ``iifname vmap``
    jumps to ``sp-<tap>`` of a filtered port: anti-spoofing (L2, ARP, IPv4/IPv6 sources,
    no DHCP server or RA from the instance) and ``mark = <in index> << 16``;
  - bridge forward (priority -300, again before br_netfilter): ``oifname vmap`` jumps to
    ``om-<tap>``, which sets the low 16 bits of the mark to the out-port's index (each
    flooded copy is marked for its own out-port).
- inet prerouting at ``raw`` priority sets ``ct zone`` from the bridge (``iifname`` there
  *is* the bridge): one zone per network, so two projects with the same addresses never
  share connection state. Zone numbers are kept stable across reloads (they are read back
  from the kernel's ``zones`` map), because conntrack entries carry them.
- egress rules of the *sending* port run in inet prerouting (priority filter, after
  conntrack), ingress rules of the *receiving* port in inet forward: two hooks, so an
  ``accept`` in the first does not skip the second, and per-group chains (``sge-<sg>``,
  ``sgi-<sg>``) can be shared by every port of the group: a port's chain is its fixed
  preamble, one ``jump`` per group and ``drop``.
- per-port chains hold no anonymous sets: nft's userspace loads every set of a table
  for any command, even ``add element``, and with a few anonymous sets in each of 1000
  port chains loading the ruleset took 20 s and one element lookup 4 s (measured). What
  every port shares is in shared chains (``sp-common``, ``eg-common``, ``in-common``);
  a port's addresses are ``!=`` chains (``ip saddr != a ip saddr != b drop``);
  concatenated MAC . address sets only appear for address pairs with MACs of their own.
- the inet chains read the mark only for packets whose ``iifname`` is one of our
  bridges (``brq*``), and marks of frames from VXLAN devices are cleared first, so other
  users of the mark in the namespace are not mistaken for ports.
- remote groups are named interval sets ``rg4-<sg>``/``rg6-<sg>``: a membership change is
  an element add/delete, never a rule rewrite. Their elements are kept out of the
  structure's digest; the digest (the one element of the ``digest`` set in each table)
  tells the applier whether the kernel has exactly this structure, so that a restarted
  agent on a converged host only syncs set elements.
- a change of rules only (same ports, groups, remote groups) flushes and refills the
  group chains concerned and swaps the digest element, in one transaction; anything else
  replaces both tables in one transaction (``add``/``delete``/define: atomic, and
  conntrack, which lives outside the tables, is untouched).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from neutrino.agent.l2.firewall.model import FirewallState, FwPort, Rule
from neutrino.agent.linux import names

LOG = logging.getLogger(__name__)

TABLE = "neutrino_sg"
DIGEST_SET = "digest"  # in both tables: one element, the structure's digest
DIGEST_LEN = 15  # an ifname element holds at most 15 characters
MAX_PORTS = 0xFFFF
MAX_ZONE = 0xFFFF

PROTOCOLS = {"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "igp": 9, "udp": 17,
             "dccp": 33, "ipv6-encap": 41, "ipv6-route": 43, "ipv6-frag": 44, "rsvp": 46,
             "gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmpv6": 58,
             "ipv6-nonxt": 59, "ipv6-opts": 60, "ospf": 89, "pgm": 113, "vrrp": 112,
             "l2tp": 115, "sctp": 132, "udplite": 136}
PORT_PROTOCOLS = {6, 17, 33, 132, 136}  # those with ports at the transport header start


@dataclass(frozen=True)
class Ruleset:
    text: str  # both tables, with the digest, without remote-group elements
    sets: Mapping[str, frozenset[str]]  # inet set name -> elements (canonical networks)
    zones: Mapping[str, int]
    digest: str  # of the structure (everything but remote-group elements)
    skeleton: str = ""  # digest of the structure without the rules of the group chains
    group_rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class KernelFirewall:
    """What the kernel has of our tables (None fields: the table is missing)."""

    digest: str | None = None
    sets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    zones: Mapping[str, int] = field(default_factory=dict)


# --- names -----------------------------------------------------------------------------------
def spoof_chain(tap: str) -> str:
    return f"sp-{tap}"


def outmark_chain(tap: str) -> str:
    return f"om-{tap}"


def egress_chain(tap: str) -> str:
    return f"eg-{tap}"


def ingress_chain(tap: str) -> str:
    return f"in-{tap}"


def group_chain(direction: str, sg_id: str) -> str:
    return f"sg{'i' if direction == 'ingress' else 'e'}-{sg_id}"


def remote_set(sg_id: str, ethertype: str) -> str:
    return f"rg{4 if ethertype == 'IPv4' else 6}-{sg_id}"


def address_set(ag_id: str, ethertype: str) -> str:
    """An address group's CIDRs (security-groups-remote-address-group)."""
    return f"ag{4 if ethertype == 'IPv4' else 6}-{ag_id}"


def rule_set(rule: Rule) -> str | None:
    """The named set a rule's remote is (a remote group's members, an address group's
    CIDRs), or None."""
    if rule.remote_group_id:
        return remote_set(rule.remote_group_id, rule.ethertype)
    if rule.remote_address_group_id:
        return address_set(rule.remote_address_group_id, rule.ethertype)
    return None


# --- helpers -------------------------------------------------------------------------------
def collapse(networks: Iterable[str]) -> frozenset[str]:
    """Canonical networks without those inside another (interval sets refuse overlaps).
    Adjacent ones are not merged: a member joining or leaving stays one element."""
    items = networks if isinstance(networks, list | tuple | set | frozenset) \
        else list(networks)
    if all(n.endswith(("/32", "/128")) for n in items):
        # canonical host routes (model.py's form) cannot contain one another
        return frozenset(items)
    nets = sorted({ipaddress.ip_network(n, strict=False) for n in items},
                  key=lambda n: (n.version, n.network_address, n.prefixlen))
    out: list[str] = []
    last: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    for n in nets:
        # CIDR blocks nest or are disjoint, so the last kept block is the only candidate
        if last is not None and last.version == n.version and n.subnet_of(last):  # type: ignore[arg-type]
            continue
        out.append(str(n))
        last = n
    return frozenset(out)


def elem(net: str) -> str:
    """nft text of a network: a bare address for a host route."""
    n = ipaddress.ip_network(net)
    return str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)


def sorted_nets(nets: Iterable[str]) -> list[str]:
    return sorted(nets, key=lambda n: (ipaddress.ip_network(n).version,
                                       ipaddress.ip_network(n)))


def link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address of ``mac``."""
    b = bytes(int(x, 16) for x in mac.split(":"))
    eui = bytes([b[0] ^ 0x02]) + b[1:3] + b"\xff\xfe" + b[3:]
    return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\x00" * 6 + eui))


def allocate_zones(bridges: Iterable[str], current: Mapping[str, int]) -> dict[str, int]:
    """A conntrack zone per bridge: the one the kernel has, else one derived from the
    bridge's name (probing on a collision). Derived rather than "lowest free" so that a
    new network does not inherit the zone, and the lingering conntrack entries, of a
    network just removed."""
    wanted = sorted(set(bridges))
    zones = {b: current[b] for b in wanted if b in current}
    used = set(zones.values())
    for b in wanted:
        if b in zones:
            continue
        z = int.from_bytes(hashlib.sha256(b.encode()).digest()[:4], "big") % MAX_ZONE + 1
        while z in used:
            z = z % MAX_ZONE + 1
        zones[b] = z
        used.add(z)
    return zones


def protocol_number(rule: Rule) -> int | None:
    """The IP protocol of a rule (None: any); ValueError for an unknown name."""
    p = rule.protocol
    if p is None or p == "any":
        return None
    num = int(p) if p.isdigit() else PROTOCOLS.get(p)
    if num is None:
        raise ValueError(f"unknown protocol {p!r}")
    if num == 1 and rule.ethertype == "IPv6":
        num = 58  # Neutron accepts "icmp" for IPv6 rules and means ICMPv6
    return num


def rule_text(rule: Rule) -> str | None:
    """The match of ``rule`` inside its group chain (ending in ``accept``); None when it
    cannot match anything (an address of the other family)."""
    v4 = rule.ethertype == "IPv4"
    ip = "ip" if v4 else "ip6"
    addr = "saddr" if rule.direction == "ingress" else "daddr"
    parts = ["meta nfproto " + ("ipv4" if v4 else "ipv6")]
    if rule.remote_ip_prefix:
        net = ipaddress.ip_network(rule.remote_ip_prefix)
        if (net.version == 4) != v4:
            return None
        if net.prefixlen:
            parts.append(f"{ip} {addr} {elem(str(net))}")
    elif rule.remote_group_id or rule.remote_address_group_id:
        parts.append(f"{ip} {addr} @{rule_set(rule)}")
    num = protocol_number(rule)
    lo, hi = rule.port_range_min, rule.port_range_max
    if num is not None:
        if num in (1, 58):
            icmp = "icmp" if num == 1 else "icmpv6"
            if (num == 1) != v4:
                return None
            parts.append(f"meta l4proto {icmp}")
            if lo is not None:
                parts.append(f"{icmp} type {lo}")
                if hi is not None:
                    parts.append(f"{icmp} code {hi}")
        else:
            parts.append(f"meta l4proto {num}")
            if num in PORT_PROTOCOLS and (lo is not None or hi is not None):
                lo = lo if lo is not None else 1
                hi = hi if hi is not None else 65535
                if not (lo == 1 and hi == 65535):
                    parts.append(f"th dport {lo}" if lo == hi else f"th dport {lo}-{hi}")
    return " ".join(parts) + " accept"


# --- per port ------------------------------------------------------------------------------
# Shared chains: what every filtered port gets, jumped to from its own chain. Anonymous
# sets are one kernel object per use, and nft's userspace loads all of them for every
# command (even ``add element``): per-port copies of these made a 1000-port ruleset take
# 20 s to load and 4 s per element lookup. So the per-port chains hold no sets at all.
SPOOF_COMMON = "sp-common"
EGRESS_COMMON = "eg-common"
INGRESS_COMMON = "in-common"

COMMON_BRIDGE = {SPOOF_COMMON: [
    "arp operation != { request, reply } drop",
    # no DHCP server, no router advertisements or redirects from an instance
    "udp sport { 67, 547 } drop",
    "icmpv6 type { nd-router-advert, nd-redirect } drop",
    "ether type != { arp, ip, ip6 } drop",
]}
COMMON_INET = {
    EGRESS_COMMON: [
        # DHCP/DHCPv6 client and neighbour discovery: always allowed, as in Neutron
        "meta l4proto udp udp sport 68 udp dport 67 accept",
        "meta l4proto udp udp sport 546 udp dport 547 accept",
        "icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, "
        "mld-listener-report, mld2-listener-report } accept",
        "ct state invalid drop",
    ],
    INGRESS_COMMON: [
        "meta l4proto udp udp sport 67 udp dport 68 accept",
        "meta l4proto udp udp sport 547 udp dport 546 accept",
        "icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, "
        "mld-listener-query } accept",
        "ct state invalid drop",
    ],
}


def _not_any(match: str, values: Iterable[str]) -> str:
    """``match != a match != b ...``: true when the field is none of ``values`` (networks
    as prefixes); no set, see above."""
    return " ".join(f"{match} != {v}" for v in values)


def _spoof_rules(port: FwPort, mark: int) -> list[str]:
    macs = sorted({port.mac_address, *(p.mac_address for p in port.allowed_address_pairs)}
                  - {""})
    pairs: dict[str, set[str]] = {m: set() for m in macs}
    for ip in port.fixed_ips:
        pairs.setdefault(port.mac_address, set()).add(ip)
    for p in port.allowed_address_pairs:
        pairs.setdefault(p.mac_address, set()).add(p.ip_address)
    rules = [f"meta mark set 0x{mark:08x}", f"jump {SPOOF_COMMON}"]
    if not macs:
        return [*rules, "drop"]
    rules.append("ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 "
                 "return")
    # duplicate address detection and MLD reports come from ::
    rules.append("ip6 saddr :: icmpv6 type @from_unspecified return")
    v4: dict[str, list[str]] = {}
    v6: dict[str, list[str]] = {}
    for mac in macs:
        nets = sorted_nets(collapse(pairs.get(mac, ())))
        v4[mac] = [elem(n) for n in nets if ":" not in n]
        v6[mac] = [elem(n) for n in sorted_nets(
            collapse([*(n for n in nets if ":" in n), link_local(mac)]))]
    if len(macs) == 1:
        (mac,) = macs
        rules.append(f"ether saddr != {mac} drop")
        rules.append(f"arp saddr ether != {mac} drop")
        rules.append(f"arp saddr ip != 0.0.0.0 {_not_any('arp saddr ip', v4[mac])} drop"
                     if v4[mac] else "arp saddr ip != 0.0.0.0 drop")
        rules.append(f"{_not_any('ip saddr', v4[mac])} drop" if v4[mac]
                     else "ether type ip drop")
        rules.append(f"{_not_any('ip6 saddr', v6[mac])} drop")
        return rules
    # address pairs with MACs of their own: MAC and address must match as a pair
    c4 = [f"{m} . {a}" for m in macs for a in v4[m]]
    c6 = [f"{m} . {a}" for m in macs for a in v6[m]]
    arp = [f"{m} . {a}" for m in macs for a in [*v4[m], "0.0.0.0"]]
    rules += [
        f"ether saddr != {{ {', '.join(macs)} }} drop",
        f"arp saddr ether . arp saddr ip != {{ {', '.join(arp)} }} drop",
        (f"ether type ip ether saddr . ip saddr != {{ {', '.join(c4)} }} drop" if c4
         else "ether type ip drop"),
        f"ether type ip6 ether saddr . ip6 saddr != {{ {', '.join(c6)} }} drop",
    ]
    return rules


def _egress_rules(port: FwPort) -> list[str]:
    return [f"jump {EGRESS_COMMON}",
            *(f"jump {group_chain('egress', g)}" for g in dict.fromkeys(port.security_groups)),
            "drop"]


def _ingress_rules(port: FwPort) -> list[str]:
    return [f"jump {INGRESS_COMMON}",
            *(f"jump {group_chain('ingress', g)}" for g in dict.fromkeys(port.security_groups)),
            "drop"]


def _chain(name: str, rules: Iterable[str], hook: str = "") -> list[str]:
    out = [f"\tchain {name} {{"]
    if hook:
        out.append(f"\t\t{hook}")
    out += [f"\t\t{r}" for r in rules]
    out.append("\t}")
    return out


def _vmap(entries: list[str]) -> str:
    return "{ " + ", ".join(entries) + " }"


# --- the ruleset ---------------------------------------------------------------------------
def render(state: FirewallState, zones: Mapping[str, int]) -> Ruleset:
    """The ruleset for ``state`` with conntrack ``zones`` by bridge (allocate_zones)."""
    filtered = sorted((p for p in state.ports.values() if p.filtered),
                      key=lambda p: p.device)
    if len(filtered) > MAX_PORTS:
        raise ValueError(f"{len(filtered)} filtered ports: at most {MAX_PORTS} per host")
    index = {p.device: i + 1 for i, p in enumerate(filtered)}

    # bridge table: anti-spoofing and port marks
    br: list[str] = [*_digest_set(), "\tset from_unspecified {", "\t\ttype icmpv6_type",
                     "\t\telements = { nd-neighbor-solicit, mld-listener-report, "
                     "mld2-listener-report }", "\t}"]
    for name, rules in COMMON_BRIDGE.items():
        br += _chain(name, rules)
    for p in filtered:
        br += _chain(spoof_chain(p.device), _spoof_rules(p, index[p.device] << 16))
    for p in filtered:
        br += _chain(outmark_chain(p.device),
                     [f"meta mark set meta mark and 0xffff0000 or 0x{index[p.device]:x}"])
    in_ports = [f'"{p.device}" : jump {spoof_chain(p.device)}' for p in filtered]
    out_ports = [f'"{p.device}" : jump {outmark_chain(p.device)}' for p in filtered]
    br.append("\tmap in_ports {")
    br.append("\t\ttype ifname : verdict")
    if in_ports:
        br.append(f"\t\telements = {_vmap(in_ports)}")
    br.append("\t}")
    # a frame decapsulated from VXLAN may still carry the outer packet's mark (frames
    # from taps and NICs start without one); the inet chains only read the mark of
    # packets from our bridges. (``meta ibrname`` would be the direct test, but this
    # kernel refuses it.)
    br += _chain("prerouting", [f'iifname "{names.VXLAN_PREFIX}*" meta mark set 0x0',
                                "iifname vmap @in_ports"],
                 "type filter hook prerouting priority -300; policy accept;")
    br += _chain("forward", [f"oifname vmap {_vmap(out_ports)}"] if out_ports else [],
                 "type filter hook forward priority -300; policy accept;")

    # inet table: zones, remote-group sets, stateful per-group rules
    inet: list[str] = _digest_set()
    group_rules: dict[str, tuple[str, ...]] = {}
    for name_of, ids in ((remote_set, referenced_groups(state)),
                         (address_set, referenced_address_groups(state))):
        for gid in ids:
            for et, typ in (("IPv4", "ipv4_addr"), ("IPv6", "ipv6_addr")):
                name = name_of(gid, et)
                inet += [f"\tset {name} {{", f"\t\ttype {typ}", "\t\tflags interval",
                         "\t\t@ELEMENTS:" + name + "@", "\t}"]
    used_groups = sorted({g for p in filtered for g in p.security_groups})
    for gid in used_groups:
        for direction in ("ingress", "egress"):
            lines: list[str] = []
            for rule in state.groups.get(gid, ()):
                if rule.direction != direction:
                    continue
                try:
                    text = rule_text(rule)
                except ValueError as e:
                    LOG.warning("security group %s rule %s skipped: %s", gid, rule.id, e)
                    continue
                if text is not None and text not in lines:
                    lines.append(text)
            chain = group_chain(direction, gid)
            group_rules[chain] = tuple(lines)
            inet += _chain(chain, [f"@RULES:{chain}@"])
    for name, rules in COMMON_INET.items():
        inet += _chain(name, rules)
    for p in filtered:
        inet += _chain(egress_chain(p.device), _egress_rules(p))
        inet += _chain(ingress_chain(p.device), _ingress_rules(p))
    zone_elems = [f'"{b}" : {z}' for b, z in sorted(zones.items())]
    inet += ["\tmap zones {", "\t\ttypeof iifname : ct zone"]
    if zone_elems:
        inet.append(f"\t\telements = {_vmap(zone_elems)}")
    inet.append("\t}")
    ours = f'iifname "{names.BRIDGE_PREFIX}*"'  # in inet hooks: the bridge
    stateless = [p for p in filtered if state.port_stateless(p)]
    stateful = [p for p in filtered if not state.port_stateless(p)]
    inet += _chain("zone", [*_notrack_rules(stateless, stateful, index, ours),
                            "ct zone set iifname map @zones"],
                   "type filter hook prerouting priority raw; policy accept;")
    inet += _chain("egress", _base_rules(
        f"{ours} meta mark and 0xffff0000",
        {p.device: f"0x{index[p.device] << 16:08x}" for p in filtered},
        {p.device for p in stateless}, egress_chain),
        "type filter hook prerouting priority filter; policy accept;")
    inet += _chain("ingress", _base_rules(
        f"{ours} meta mark and 0xffff",
        {p.device: f"0x{index[p.device]:x}" for p in filtered},
        {p.device for p in stateless}, ingress_chain),
        "type filter hook forward priority filter; policy accept;")

    skeleton = "\n".join([f"table bridge {TABLE} {{", *br, "}",
                          f"table inet {TABLE} {{", *inet, "}", ""])
    structure = skeleton
    for chain, lines in group_rules.items():
        # an empty chain keeps an empty line: harmless to nft
        structure = structure.replace(f"@RULES:{chain}@", "\n\t\t".join(lines))
    digest = _digest(structure)
    text = structure.replace("@DIGEST@", digest)
    return Ruleset(text=text, sets=render_sets(state), zones=dict(zones), digest=digest,
                   skeleton=_digest(skeleton), group_rules=group_rules)


def _macs(ports: Iterable[FwPort]) -> list[str]:
    return sorted({m for p in ports
                   for m in (p.mac_address, *(a.mac_address for a in p.allowed_address_pairs))
                   if m})


def _notrack_rules(stateless: list[FwPort], stateful: list[FwPort], index: Mapping[str, int],
                   ours: str) -> list[str]:
    """Ports of stateless groups (``stateful: false``): their packets are not tracked
    (``notrack``, before the zone is set: a packet with a conntrack template is tracked),
    unless a stateful port of this host is at the other end, whose replies must still be
    seen as established. Sender by its port mark, receiver by its MAC (the out-port is
    not known yet in prerouting). One anonymous set per rule, four rules at most."""
    if not stateless:
        return []
    out = []
    in_marks = ", ".join(f"0x{index[p.device] << 16:08x}" for p in stateful)
    if in_marks:
        out.append(f"{ours} meta mark and 0xffff0000 {{ {in_marks} }} "
                   "ct zone set iifname map @zones accept")
    if stateful and _macs(stateful):
        out.append(f"{ours} ether daddr {{ {', '.join(_macs(stateful))} }} "
                   "ct zone set iifname map @zones accept")
    marks = ", ".join(f"0x{index[p.device] << 16:08x}" for p in stateless)
    out.append(f"{ours} meta mark and 0xffff0000 {{ {marks} }} notrack accept")
    if _macs(stateless):
        out.append(f"{ours} ether daddr {{ {', '.join(_macs(stateless))} }} notrack accept")
    return out


def _base_rules(match: str, keys: Mapping[str, str], stateless: set[str],
                chain_of: Callable[[str], str]) -> list[str]:
    """A hook's dispatch to the port chains: stateless ports' first (each of their
    packets goes through their rules: no ``established`` shortcut), then the shortcut,
    then the stateful ports'."""
    out = []
    first = [f"{k} : jump {chain_of(d)}" for d, k in keys.items() if d in stateless]
    then = [f"{k} : jump {chain_of(d)}" for d, k in keys.items() if d not in stateless]
    if first:
        out.append(f"{match} vmap {_vmap(first)}")
    out.append("ct state established,related accept")
    if then:
        out.append(f"{match} vmap {_vmap(then)}")
    return out


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LEN]


def _digest_set() -> list[str]:
    return [f"\tset {DIGEST_SET} {{", "\t\ttype ifname", '\t\telements = { "@DIGEST@" }',
            "\t}"]


def referenced_groups(state: FirewallState) -> list[str]:
    return sorted({r.remote_group_id for rules in state.groups.values()
                   for r in rules if r.remote_group_id})


def referenced_address_groups(state: FirewallState) -> list[str]:
    return sorted({r.remote_address_group_id for rules in state.groups.values()
                   for r in rules if r.remote_address_group_id})


def render_sets(state: FirewallState) -> dict[str, frozenset[str]]:
    """The remote-group and address-group sets' elements: all that a membership change
    or an address group's add/remove_addresses alters."""
    sets: dict[str, frozenset[str]] = {}
    for gid in referenced_groups(state):
        members = state.remote_groups.get(gid, {})
        for et in ("IPv4", "IPv6"):
            sets[remote_set(gid, et)] = collapse(members.get(et, ()))
    for aid in referenced_address_groups(state):
        cidrs = state.address_groups.get(aid, {})
        for et in ("IPv4", "IPv6"):
            sets[address_set(aid, et)] = collapse(cidrs.get(et, ()))
    return sets


def connections_to_forget(old_sets: Mapping[str, frozenset[str]], ruleset: Ruleset,
                          state: FirewallState) -> list[list[str]]:
    """``conntrack`` arguments that end the connections a remote-group member no longer
    may have (as Neutron does): for each host address gone from a group's set, the entries
    it started (``-s``) in the zones of ports whose ingress rules name the group, and
    those started towards it (``-d``) where egress rules do. Entries of connections still
    allowed by another rule are picked up again by conntrack on their next packet."""
    zones: dict[str, dict[str, set[int]]] = {}  # set name -> direction -> zones
    for p in state.ports.values():
        if not p.filtered or p.network_id not in state.bridges:
            continue
        zone = ruleset.zones.get(state.bridges[p.network_id])
        if zone is None:
            continue
        for g in p.security_groups:
            for r in state.groups.get(g, ()):
                name = rule_set(r)
                if name is not None:
                    zones.setdefault(name, {}).setdefault(r.direction, set()).add(zone)
    out: list[list[str]] = []
    for name, old in sorted(old_sets.items()):
        gone = old - ruleset.sets.get(name, frozenset())
        by_dir = zones.get(name, {})
        for net in sorted_nets(gone):
            n = ipaddress.ip_network(net)
            if n.prefixlen != n.max_prefixlen:
                continue  # a CIDR pair: left to time out
            addr = str(n.network_address)
            out += [["-D", "-s", addr, "-w", str(z)] for z in sorted(by_dir.get("ingress", ()))]
            out += [["-D", "-d", addr, "-w", str(z)] for z in sorted(by_dir.get("egress", ()))]
    return out


def rerender(previous: Ruleset, previous_state: FirewallState, state: FirewallState,
             zones: Mapping[str, int]) -> Ruleset:
    """``render(state, zones)``, reusing ``previous`` (rendered from ``previous_state``)
    when only remote-group members differ: the fast path of a membership change, which
    then costs the set elements, not the 1000 port chains."""
    if (zones == previous.zones and state.ports == previous_state.ports
            and state.groups == previous_state.groups
            and state.stateless == previous_state.stateless):
        return replace(previous, sets=render_sets(state))
    return render(state, zones)
