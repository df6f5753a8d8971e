"""The desired state of one router, parsed from ``get_host_state`` for "L3 agent" (its
types: ``neutrino.protocol.l3``) into small frozen dataclasses.

Parsing normalizes what would otherwise make two equal states look different to the plan
(MAC case, IPv6 spelling, CIDR host bits) and rejects what the kernel could not be given,
naming the router and the port, so one bad router fails its own reconcile with a clear log
line and the others converge.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from neutrino.agent.linux import names
from neutrino.agent.linux.fdb import normalize_mac
from neutrino.protocol import l3 as proto


class DesiredStateError(ValueError):
    """The desired state of a router cannot be programmed as given."""


@dataclass(frozen=True)
class FixedIp:
    subnet_id: str
    ip_address: str  # normalized
    prefixlen: int

    @property
    def interface(self) -> str:
        """``address/prefixlen``, as the kernel lists it."""
        return f"{self.ip_address}/{self.prefixlen}"

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.ip_address).version


@dataclass(frozen=True)
class RouterPort:
    port_id: str
    mac_address: str  # lower case
    network_id: str
    mtu: int | None
    fixed_ips: tuple[FixedIp, ...]
    ipv4_address_scope: str | None = None  # legs of one scope: routed without NAT


@dataclass(frozen=True)
class Gateway:
    port: RouterPort
    enable_snat: bool
    gateway_ips: tuple[str, ...]  # the external subnets' gateways; [0] per family: default

    def address(self, version: int = 4) -> str | None:
        """The router's own external address of ``version`` (the SNAT source)."""
        return next((f.ip_address for f in self.port.fixed_ips if f.version == version), None)

    def default_gateways(self) -> dict[int, str]:
        """The default route's next hop per IP version: the first gateway of each."""
        out: dict[int, str] = {}
        for gw in self.gateway_ips:
            out.setdefault(ipaddress.ip_address(gw).version, gw)
        return out


@dataclass(frozen=True)
class ExtraRoute:
    destination: str  # normalized CIDR
    nexthop: str


@dataclass(frozen=True)
class FloatingIp:
    id: str
    floating_ip_address: str
    fixed_ip_address: str
    port_id: str


@dataclass(frozen=True)
class PortForwarding:
    id: str
    floatingip_id: str
    floating_ip_address: str
    protocol: str  # tcp, udp, sctp or dccp (those with ports)
    external_port: int
    internal_ip_address: str
    internal_port: int


# the protocols a forwarding can be programmed for (the others have no ports)
PORT_PROTOCOLS = ("tcp", "udp", "sctp", "dccp")


@dataclass(frozen=True)
class Router:
    id: str
    project_id: str
    admin_state_up: bool
    gateway: Gateway | None
    interfaces: tuple[RouterPort, ...]
    routes: tuple[ExtraRoute, ...]
    floating_ips: tuple[FloatingIp, ...]
    port_forwardings: tuple[PortForwarding, ...] = ()

    @property
    def ports(self) -> tuple[tuple[str, RouterPort], ...]:
        """(device name in the router namespace, port) of every port, gateway first."""
        out = []
        if self.gateway is not None:
            out.append((names.gateway_interface_name(self.gateway.port.port_id),
                        self.gateway.port))
        out.extend((names.router_interface_name(p.port_id), p) for p in self.interfaces)
        return tuple(out)

    @property
    def gateway_device(self) -> str | None:
        if self.gateway is None:
            return None
        return names.gateway_interface_name(self.gateway.port.port_id)

    @property
    def ipv4_floating_ips(self) -> tuple[FloatingIp, ...]:
        """Floating IPs that can be NATed: IPv4 both sides, a gateway to carry them."""
        if self.gateway is None:
            return ()
        return tuple(f for f in self.floating_ips
                     if ipaddress.ip_address(f.floating_ip_address).version == 4
                     and ipaddress.ip_address(f.fixed_ip_address).version == 4)

    @property
    def ipv4_port_forwardings(self) -> tuple[PortForwarding, ...]:
        """Port forwardings that can be DNATed: a gateway to carry them, a floating IP
        that is not also a whole-address floating IP here."""
        if self.gateway is None:
            return ()
        whole = {f.floating_ip_address for f in self.ipv4_floating_ips}
        return tuple(p for p in self.port_forwardings
                     if p.floating_ip_address not in whole)


def _address(value: Any, what: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except (TypeError, ValueError) as e:
        raise DesiredStateError(f"{what}: {value!r} is not an IP address") from e


def parse_fixed_ip(raw: proto.FixedIp, what: str) -> FixedIp:
    address = _address(raw.ip_address, what)
    prefixlen = raw.prefixlen
    if prefixlen is None and raw.cidr is not None:
        try:
            prefixlen = ipaddress.ip_network(raw.cidr, strict=False).prefixlen
        except ValueError as e:
            raise DesiredStateError(f"{what}: bad cidr {raw.cidr!r}") from e
    maxlen = 32 if ipaddress.ip_address(address).version == 4 else 128
    if prefixlen is None or not 0 < prefixlen <= maxlen:
        raise DesiredStateError(f"{what}: bad prefixlen {prefixlen!r} for {address}")
    return FixedIp(subnet_id=raw.subnet_id, ip_address=address, prefixlen=prefixlen)


def parse_port(raw: proto.RouterPort, what: str) -> RouterPort:
    if not raw.port_id:
        raise DesiredStateError(f"{what}: port_id missing")
    what = f"{what} {raw.port_id}"
    try:
        mac = normalize_mac(raw.mac_address)
    except ValueError as e:
        raise DesiredStateError(f"{what}: {e}") from e
    mtu = raw.mtu
    if mtu is not None and not 68 <= mtu <= 65535:
        raise DesiredStateError(f"{what}: bad mtu {mtu!r}")
    fixed = tuple(parse_fixed_ip(f, what) for f in raw.fixed_ips)
    return RouterPort(port_id=raw.port_id, mac_address=mac, network_id=raw.network_id,
                      mtu=mtu or None, fixed_ips=fixed,
                      ipv4_address_scope=raw.ipv4_address_scope or None)


def parse_router(raw: proto.Router) -> Router:
    router_id = raw.id
    if not router_id:
        raise DesiredStateError("router: id missing")
    what = f"router {router_id}"
    gateway = None
    if raw.gateway is not None:
        gw = raw.gateway
        gateway = Gateway(
            port=parse_port(gw, f"{what} gateway port"),
            enable_snat=gw.enable_snat,
            gateway_ips=tuple(_address(g, f"{what} gateway_ips") for g in gw.gateway_ips
                              if g),
        )
    interfaces = tuple(parse_port(p, f"{what} interface") for p in raw.interfaces)
    routes = []
    for r in raw.routes:
        try:
            dest = str(ipaddress.ip_network(r.destination, strict=False))
        except (TypeError, ValueError) as e:
            raise DesiredStateError(f"{what}: bad route destination {r!r}") from e
        routes.append(ExtraRoute(destination=dest,
                                 nexthop=_address(r.nexthop, f"{what} route")))
    fips = []
    for f in raw.floating_ips:
        if not f.id:
            raise DesiredStateError(f"{what} floating ip: id missing")
        fips.append(FloatingIp(
            id=f.id,
            floating_ip_address=_address(f.floating_ip_address,
                                         f"{what} floating ip {f.id}"),
            fixed_ip_address=_address(f.fixed_ip_address, f"{what} floating ip {f.id}"),
            port_id=f.port_id))
    pfs = []
    for p in raw.port_forwardings:
        w = f"{what} port forwarding {p.id}"
        if not p.id or p.protocol not in PORT_PROTOCOLS:
            raise DesiredStateError(f"{w}: no id, or protocol {p.protocol!r} has no ports")
        if not (0 < p.external_port < 65536 and 0 < p.internal_port < 65536):
            raise DesiredStateError(f"{w}: bad port numbers")
        floating = _address(p.floating_ip_address, w)
        internal = _address(p.internal_ip_address, w)
        if ipaddress.ip_address(floating).version != 4 or \
                ipaddress.ip_address(internal).version != 4:
            raise DesiredStateError(f"{w}: not IPv4")
        pfs.append(PortForwarding(
            id=p.id, floatingip_id=p.floatingip_id, floating_ip_address=floating,
            protocol=p.protocol, external_port=p.external_port,
            internal_ip_address=internal, internal_port=p.internal_port))
    seen: dict[str, str] = {}
    for dev, port in _ports(gateway, interfaces):
        if dev in seen:
            raise DesiredStateError(f"{what}: ports {seen[dev]} and {port.port_id} share "
                                    f"the device name {dev}")
        seen[dev] = port.port_id
    return Router(id=router_id, project_id=raw.project_id,
                  admin_state_up=raw.admin_state_up, gateway=gateway,
                  interfaces=interfaces, routes=tuple(sorted(set(routes), key=_route_key)),
                  floating_ips=tuple(sorted(fips, key=lambda f: f.floating_ip_address)),
                  port_forwardings=tuple(sorted(pfs, key=lambda p: (
                      p.floating_ip_address, p.protocol, p.external_port, p.id))))


def _ports(gateway: Gateway | None,
           interfaces: tuple[RouterPort, ...]) -> list[tuple[str, RouterPort]]:
    out = [(names.gateway_interface_name(gateway.port.port_id), gateway.port)] if gateway \
        else []
    return out + [(names.router_interface_name(p.port_id), p) for p in interfaces]


def _route_key(r: ExtraRoute) -> tuple[str, str]:
    return (r.destination, r.nexthop)
