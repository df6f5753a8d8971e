"""The router's NAT as one nftables table, rendered from its desired state (pure), and
how the agent reads back what a namespace has.

One table, ``ip neutrino_l3``, per router namespace:

- ``prerouting``/``output`` (dstnat): each floating IP is DNATed to its fixed IP, for
  traffic from outside, from the router itself and from inside (hairpin); each port
  forwarding DNATs (floating IP, protocol, external port) to (internal IP, port);
- ``postrouting`` (srcnat), first match wins:
  1. a fixed IP with a floating IP leaving through ``qg-`` (or DNATed back inside, the
     hairpin case) is SNATed to its floating IP;
  2. with ``enable_snat``: anything else leaving through ``qg-`` is SNATed to the gateway
     address, and a hairpin to a floating IP from inside (DNATed, not entering by ``qg-``)
     too, so the reply comes back through the router;
  3. everything else is routed unchanged: traffic between internal subnets is never NATed,
     nor is inbound floating-IP traffic once DNATed (the instance sees the real client).
  Before all these: an interface in the gateway's address scope leaves un-NATed.

The table is replaced in one transaction (``table; delete table; table {...}`` in one
``nft -f``): there is never a moment without NAT, and connections already tracked keep
their NAT bindings, which live in conntrack, not in the rules (PLATFORM.md: nftables NAT
works here).

Whether a namespace's table is the one wanted is decided by a digest of the rendered text
kept in the table's comment, so a converged router costs one listing and no change; the
floating IP rules carry ``comment "fip <id>"`` (port forwardings ``"pf <fip id> <id>"``)
so that the agent can tell which floating IPs
a namespace had (to flush their connections and report them DOWN when they go).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from neutrino.agent.l3.model import Router
from neutrino.agent.linux import names

FAMILY = "ip"
TABLE = "neutrino_l3"
COMMENT_PREFIX = "neutrino router"

_TABLE_COMMENT = re.compile(r'^\s*comment "' + COMMENT_PREFIX + r' (\S+) (\S+)"\s*$',
                            re.MULTILINE)
_FIP_RULE = re.compile(
    r'^\s*ip daddr (\S+) dnat (?:ip )?to (\S+) comment "fip (\S+)"\s*$', re.MULTILINE)
_PF_RULE = re.compile(
    r'^\s*ip daddr (\S+) (\w+) dport (\d+) dnat (?:ip )?to (\S+):(\d+) '
    r'comment "pf (\S+) (\S+)"\s*$', re.MULTILINE)

# pf id -> (floating IP id, floating address, protocol, external port, internal address,
# internal port): what a port forwarding's rule says
Forwarding = tuple[str, str, str, int, str, int]


@dataclass(frozen=True)
class NatState:
    """What a namespace's table says: its digest and the floating IPs it maps
    (fip id -> (floating address, fixed address))."""

    digest: str | None
    floating_ips: dict[str, tuple[str, str]] = field(default_factory=dict)
    port_forwardings: dict[str, Forwarding] = field(default_factory=dict)


def _quote(name: str) -> str:
    # device names come from ids (hex and dashes); anything else is a bug upstream
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", name):
        raise ValueError(f"unexpected device name {name!r} in a NAT rule")
    return f'"{name}"'


def render_body(router: Router) -> str | None:
    """The chains of ``router``'s table, or None when it needs no NAT (no gateway, or no
    IPv4 address on it)."""
    gateway = router.gateway
    if gateway is None or router.gateway_device is None:
        return None
    gw_address = gateway.address(4)
    if gw_address is None:
        return None
    qg = _quote(router.gateway_device)
    fips = router.ipv4_floating_ips
    pre = [f'\t\tip daddr {f.floating_ip_address} dnat to {f.fixed_ip_address} '
           f'comment "fip {f.id}"' for f in fips]
    out = [f'\t\tip daddr {f.floating_ip_address} dnat to {f.fixed_ip_address}'
           for f in fips]
    # port forwardings: one (protocol, port) of a floating IP to an internal socket;
    # replies are un-NATed by conntrack, new outbound traffic takes the router's SNAT
    for p in router.ipv4_port_forwardings:
        match = (f'ip daddr {p.floating_ip_address} {p.protocol} dport {p.external_port} '
                 f'dnat to {p.internal_ip_address}:{p.internal_port}')
        pre.append(f'\t\t{match} comment "pf {p.floatingip_id} {p.id}"')
        out.append(f'\t\t{match}')
    post = []
    # address scopes: an interface of the gateway's scope reaches the outside un-NATed,
    # as Neutron's L3 agent routes between networks of one scope (its floating IPs still
    # take inbound traffic; what leaves keeps its own address)
    scope = gateway.port.ipv4_address_scope
    if scope:
        for port in router.interfaces:
            if port.ipv4_address_scope == scope:
                qr = _quote(names.router_interface_name(port.port_id))
                post.append(f"\t\tiifname {qr} oifname {qg} accept")
    for f in fips:
        post.append(f'\t\tip saddr {f.fixed_ip_address} oifname {qg} '
                    f'snat to {f.floating_ip_address}')
        post.append(f'\t\tip saddr {f.fixed_ip_address} ct status dnat '
                    f'snat to {f.floating_ip_address}')
    if gateway.enable_snat:
        post.append(f"\t\toifname {qg} snat to {gw_address}")
        post.append(f"\t\tiifname != {qg} ct status dnat snat to {gw_address}")
    lines = [
        "\tchain prerouting {",
        "\t\ttype nat hook prerouting priority dstnat; policy accept;",
        *pre,
        "\t}",
        "\tchain output {",
        "\t\ttype nat hook output priority -100; policy accept;",
        *out,
        "\t}",
        "\tchain postrouting {",
        "\t\ttype nat hook postrouting priority srcnat; policy accept;",
        *post,
        "\t}",
    ]
    return "\n".join(lines) + "\n"


def digest_of(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class RenderedNat:
    digest: str
    script: str  # the whole ``nft -f`` input that replaces the table atomically


def render(router: Router) -> RenderedNat | None:
    """The table ``router`` needs (None: none), as an atomic replacement script."""
    body = render_body(router)
    if body is None:
        return None
    digest = digest_of(body)
    script = (f"table {FAMILY} {TABLE}\n"
              f"delete table {FAMILY} {TABLE}\n"
              f"table {FAMILY} {TABLE} {{\n"
              f'\tcomment "{COMMENT_PREFIX} {router.id} {digest}"\n'
              f"{body}}}\n")
    return RenderedNat(digest=digest, script=script)


def delete_script() -> str:
    """``nft -f`` input removing the table, whether or not it exists."""
    return f"table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n"


def parse_listing(text: str | None) -> NatState | None:
    """The state of the table from ``nft list table`` output (None: no table)."""
    if not text or f"table {FAMILY} {TABLE}" not in text:
        return None
    m = _TABLE_COMMENT.search(text)
    fips = {fid: (fip, fixed) for fip, fixed, fid in _FIP_RULE.findall(text)}
    pfs = {pf_id: (fip_id, fip, proto, int(ext), internal, int(port))
           for fip, proto, ext, internal, port, fip_id, pf_id in _PF_RULE.findall(text)}
    return NatState(digest=m.group(2) if m else None, floating_ips=fips,
                    port_forwardings=pfs)
