"""The desired DHCP state of one network, parsed from ``get_host_state`` for "DHCP agent"
(its types: ``neutrino.protocol.dhcp``) into small frozen dataclasses.

Parsing normalizes what would otherwise make two equal states render differently (MAC case,
IPv6 address spelling, CIDR host bits), and rejects what dnsmasq could not be given, with the
network, subnet or port named in the error, so one bad entry fails one network's reconcile
with a clear log line instead of a confusing dnsmasq error.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from neutrino.agent.linux.fdb import normalize_mac
from neutrino.protocol import dhcp as proto

# Neutron's IPv6 modes (neutron_lib.constants)
IPV6_SLAAC = "slaac"
DHCPV6_STATEFUL = "dhcpv6-stateful"
DHCPV6_STATELESS = "dhcpv6-stateless"
IPV6_MODES = (IPV6_SLAAC, DHCPV6_STATEFUL, DHCPV6_STATELESS)


class DesiredStateError(ValueError):
    """The desired state of a network cannot be served by dnsmasq as given."""


@dataclass(frozen=True)
class HostRoute:
    destination: str  # CIDR, normalized
    nexthop: str


@dataclass(frozen=True)
class Subnet:
    id: str
    cidr: str  # normalized network, e.g. "10.99.0.0/24"
    ip_version: int
    gateway_ip: str | None
    enable_dhcp: bool
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[HostRoute, ...] = ()
    ipv6_address_mode: str | None = None
    ipv6_ra_mode: str | None = None

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr)

    @property
    def dhcp_mode(self) -> str | None:
        """What dnsmasq serves on this subnet, as Neutron decides it: "static" (fixed
        addresses from the hosts file; for DHCPv6-stateless it then only answers
        information requests, as no host has an address there), or None: DHCP disabled, or
        SLAAC (addresses come from router advertisements, which are the L3 agent's job)."""
        if not self.enable_dhcp:
            return None
        if self.ip_version == 4:
            return "static"
        if self.ipv6_address_mode in (DHCPV6_STATEFUL, DHCPV6_STATELESS):
            return "static"
        if self.ipv6_address_mode is None and self.ipv6_ra_mode is None:
            return "static"
        return None

    @property
    def serves_addresses(self) -> bool:
        """Whether hosts get their address from dnsmasq on this subnet (not just options)."""
        return self.dhcp_mode is not None and (
            self.ip_version == 4 or self.ipv6_address_mode not in (DHCPV6_STATELESS,))

    @property
    def serves_options(self) -> bool:
        """Whether dnsmasq sends options (DNS, routes) on this subnet."""
        return self.enable_dhcp and not (
            self.ip_version == 6 and self.ipv6_address_mode == IPV6_SLAAC)


@dataclass(frozen=True)
class FixedIp:
    subnet_id: str
    ip_address: str  # normalized


@dataclass(frozen=True)
class ExtraDhcpOpt:
    """A port's own DHCP option (extra_dhcp_opt): a dnsmasq option name or number, its
    value ("" sends it empty) and the IP version it is for."""

    name: str
    value: str
    ip_version: int = 4


@dataclass(frozen=True)
class Port:
    id: str
    mac_address: str  # normalized, lower case
    fixed_ips: tuple[FixedIp, ...]
    device_owner: str = ""
    hostname: str | None = None
    extra_dhcp_opts: tuple[ExtraDhcpOpt, ...] = ()


@dataclass(frozen=True)
class Network:
    id: str
    mtu: int
    subnets: tuple[Subnet, ...]
    dhcp_port: Port | None
    ports: tuple[Port, ...]

    def subnet(self, subnet_id: str) -> Subnet | None:
        for s in self.subnets:
            if s.id == subnet_id:
                return s
        return None

    @property
    def dhcp_subnets(self) -> tuple[Subnet, ...]:
        """Subnets dnsmasq has a --dhcp-range for."""
        return tuple(s for s in self.subnets if s.dhcp_mode is not None)

    @property
    def wants_dhcp(self) -> bool:
        """A network is served (namespace, port, dnsmasq) only with a DHCP-enabled subnet
        and its DHCP port."""
        return self.dhcp_port is not None and any(s.enable_dhcp for s in self.subnets)


# --- parsing -------------------------------------------------------------------------------
def _ip(value: Any, what: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise DesiredStateError(f"{what}: {value!r} is not an IP address") from None


def _cidr(value: Any, what: str) -> str:
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise DesiredStateError(f"{what}: {value!r} is not a CIDR") from None


def parse_subnet(raw: proto.Subnet) -> Subnet:
    sid = raw.id
    if not sid:
        raise DesiredStateError("subnet without id")
    what = f"subnet {sid}"
    cidr = _cidr(raw.cidr, what)
    version = ipaddress.ip_network(cidr).version
    if raw.ip_version not in (None, version):
        raise DesiredStateError(f"{what}: ip_version {raw.ip_version!r} does not "
                                f"match cidr {cidr}")
    routes = [HostRoute(_cidr(r.destination, what), _ip(r.nexthop, what))
              for r in raw.host_routes]
    for key in ("ipv6_address_mode", "ipv6_ra_mode"):
        mode = getattr(raw, key)
        if mode is not None and mode not in IPV6_MODES:
            raise DesiredStateError(f"{what}: unknown {key} {mode!r}")
    return Subnet(
        id=sid, cidr=cidr, ip_version=version,
        gateway_ip=_ip(raw.gateway_ip, what) if raw.gateway_ip else None,
        enable_dhcp=raw.enable_dhcp,
        dns_nameservers=tuple(_ip(d, what) for d in raw.dns_nameservers),
        host_routes=tuple(routes),
        ipv6_address_mode=raw.ipv6_address_mode, ipv6_ra_mode=raw.ipv6_ra_mode,
    )


def parse_port(raw: proto.DhcpPort) -> Port:
    pid = raw.id
    if not pid:
        raise DesiredStateError("port without id")
    what = f"port {pid}"
    try:
        mac = normalize_mac(raw.mac_address)
    except ValueError as e:
        raise DesiredStateError(f"{what}: {e}") from None
    fixed = tuple(FixedIp(f.subnet_id, _ip(f.ip_address, what)) for f in raw.fixed_ips)
    if not isinstance(raw, proto.Port):  # the DHCP port itself
        return Port(id=pid, mac_address=mac, fixed_ips=fixed)
    return Port(id=pid, mac_address=mac, fixed_ips=fixed, device_owner=raw.device_owner,
                hostname=raw.hostname or None,
                extra_dhcp_opts=tuple(parse_extra_opt(o, what) for o in raw.extra_dhcp_opts))


def parse_extra_opt(raw: proto.ExtraDhcpOpt, what: str) -> ExtraDhcpOpt:
    """One extra_dhcp_opts entry; what could break a line of dnsmasq's options file (the
    server refuses it already) is refused here too."""
    name, value, version = raw.opt_name, raw.opt_value or "", raw.ip_version
    if (not name.strip() or version not in (4, 6)
            or any(c in text for text in (name, value) for c in "\n\r\x00")):
        raise DesiredStateError(f"{what}: bad extra DHCP option {raw!r}")
    return ExtraDhcpOpt(name.strip(), value, version)


def parse_network(raw: proto.Network) -> Network:
    """One entry of ``networks`` in the DHCP agent's host state."""
    nid = raw.id
    if not nid:
        raise DesiredStateError("network without id")
    try:
        subnets = tuple(parse_subnet(s) for s in raw.subnets)
        dhcp_port = parse_port(raw.dhcp_port) if raw.dhcp_port else None
        ports = tuple(parse_port(p) for p in raw.ports)
    except (DesiredStateError, ValueError, TypeError) as e:
        raise DesiredStateError(f"network {nid}: {e}") from None
    return Network(id=nid, mtu=raw.mtu or 0, subnets=subnets, dhcp_port=dhcp_port,
                   ports=tuple(sorted(ports, key=lambda p: p.id)))
