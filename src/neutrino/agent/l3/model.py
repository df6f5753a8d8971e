"""The desired state of one router, parsed from ``get_host_state`` for "L3 agent"
(docs/agent-protocol.md, /work/helpers/CONTRACT_L3.md) into small frozen dataclasses.

Parsing normalizes what would otherwise make two equal states look different to the plan
(MAC case, IPv6 spelling, CIDR host bits) and rejects what the kernel could not be given,
naming the router and the port, so one bad router fails its own reconcile with a clear log
line and the others converge.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neutrino.agent.linux import names
from neutrino.agent.linux.fdb import normalize_mac


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
class Router:
    id: str
    project_id: str
    admin_state_up: bool
    gateway: Gateway | None
    interfaces: tuple[RouterPort, ...]
    routes: tuple[ExtraRoute, ...]
    floating_ips: tuple[FloatingIp, ...]

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


def _str(raw: Mapping[str, Any], key: str, what: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise DesiredStateError(f"{what}: {key} missing or not a string: {value!r}")
    return value


def _address(value: Any, what: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except (TypeError, ValueError) as e:
        raise DesiredStateError(f"{what}: {value!r} is not an IP address") from e


def _mapping(raw: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise DesiredStateError(f"{what}: expected an object, got {raw!r}")
    return raw


def _list(raw: Any, what: str) -> Sequence[Any]:
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise DesiredStateError(f"{what}: expected a list, got {raw!r}")
    return raw


def parse_fixed_ip(raw: Any, what: str) -> FixedIp:
    raw = _mapping(raw, what)
    address = _address(raw.get("ip_address"), what)
    prefixlen = raw.get("prefixlen")
    if prefixlen is None and isinstance(raw.get("cidr"), str):
        try:
            prefixlen = ipaddress.ip_network(raw["cidr"], strict=False).prefixlen
        except ValueError as e:
            raise DesiredStateError(f"{what}: bad cidr {raw['cidr']!r}") from e
    maxlen = 32 if ipaddress.ip_address(address).version == 4 else 128
    if isinstance(prefixlen, bool) or not isinstance(prefixlen, int) or not (
            0 < prefixlen <= maxlen):
        raise DesiredStateError(f"{what}: bad prefixlen {prefixlen!r} for {address}")
    return FixedIp(subnet_id=str(raw.get("subnet_id") or ""), ip_address=address,
                   prefixlen=prefixlen)


def parse_port(raw: Any, what: str) -> RouterPort:
    raw = _mapping(raw, what)
    port_id = _str(raw, "port_id", what)
    what = f"{what} {port_id}"
    try:
        mac = normalize_mac(_str(raw, "mac_address", what))
    except ValueError as e:
        raise DesiredStateError(f"{what}: {e}") from e
    mtu = raw.get("mtu")
    if mtu is not None and (isinstance(mtu, bool) or not isinstance(mtu, int)
                            or not 68 <= mtu <= 65535):
        raise DesiredStateError(f"{what}: bad mtu {mtu!r}")
    fixed = tuple(parse_fixed_ip(f, what) for f in _list(raw.get("fixed_ips"), what))
    return RouterPort(port_id=port_id, mac_address=mac,
                      network_id=str(raw.get("network_id") or ""), mtu=mtu or None,
                      fixed_ips=fixed)


def parse_router(raw: Any) -> Router:
    raw = _mapping(raw, "router")
    router_id = _str(raw, "id", "router")
    what = f"router {router_id}"
    gateway = None
    if raw.get("gateway") is not None:
        gw = _mapping(raw["gateway"], f"{what} gateway")
        gateway = Gateway(
            port=parse_port(gw, f"{what} gateway port"),
            enable_snat=bool(gw.get("enable_snat", True)),
            gateway_ips=tuple(_address(g, f"{what} gateway_ips")
                              for g in _list(gw.get("gateway_ips"), f"{what} gateway_ips")
                              if g),
        )
    interfaces = tuple(parse_port(p, f"{what} interface")
                       for p in _list(raw.get("interfaces"), f"{what} interfaces"))
    routes = []
    for r in _list(raw.get("routes"), f"{what} routes"):
        r = _mapping(r, f"{what} route")
        try:
            dest = str(ipaddress.ip_network(r.get("destination"), strict=False))
        except (TypeError, ValueError) as e:
            raise DesiredStateError(f"{what}: bad route destination {r!r}") from e
        routes.append(ExtraRoute(destination=dest,
                                 nexthop=_address(r.get("nexthop"), f"{what} route")))
    fips = []
    for f in _list(raw.get("floating_ips"), f"{what} floating_ips"):
        f = _mapping(f, f"{what} floating ip")
        fid = _str(f, "id", f"{what} floating ip")
        fips.append(FloatingIp(
            id=fid,
            floating_ip_address=_address(f.get("floating_ip_address"),
                                         f"{what} floating ip {fid}"),
            fixed_ip_address=_address(f.get("fixed_ip_address"), f"{what} floating ip {fid}"),
            port_id=str(f.get("port_id") or "")))
    seen: dict[str, str] = {}
    for dev, port in _ports(gateway, interfaces):
        if dev in seen:
            raise DesiredStateError(f"{what}: ports {seen[dev]} and {port.port_id} share "
                                    f"the device name {dev}")
        seen[dev] = port.port_id
    return Router(id=router_id, project_id=str(raw.get("project_id") or ""),
                  admin_state_up=bool(raw.get("admin_state_up", True)), gateway=gateway,
                  interfaces=interfaces, routes=tuple(sorted(set(routes), key=_route_key)),
                  floating_ips=tuple(sorted(fips, key=lambda f: f.floating_ip_address)))


def _ports(gateway: Gateway | None,
           interfaces: tuple[RouterPort, ...]) -> list[tuple[str, RouterPort]]:
    out = [(names.gateway_interface_name(gateway.port.port_id), gateway.port)] if gateway \
        else []
    return out + [(names.router_interface_name(p.port_id), p) for p in interfaces]


def _route_key(r: ExtraRoute) -> tuple[str, str]:
    return (r.destination, r.nexthop)
