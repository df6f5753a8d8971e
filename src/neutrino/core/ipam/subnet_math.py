"""Pure subnet arithmetic and validation: gateways, allocation pools, IPv6 modes, EUI-64.

No database here, so all of it is unit-tested directly. The rules, their order and their
messages are Neutron's (db_base_plugin_v2._validate_subnet, ipam_backend_mixin,
ipam/utils.py): clients and operators match on them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from neutrino import constants as const
from neutrino import exceptions as exc

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")
IPV4_MIN_MTU = 68
IPV6_MIN_MTU = 1280

# Owners that are a router's leg on a subnet: they keep the subnet in use, get no SLAAC
# address of their own, and may hold an IPv6 subnet's network (anycast) address.
ROUTER_INTERFACE_OWNERS = (
    const.DEVICE_OWNER_ROUTER_INTF,
    const.DEVICE_OWNER_HA_REPLICATED_INT,
    const.DEVICE_OWNER_DVR_INTERFACE,
)
ROUTER_PORT_OWNERS = (*ROUTER_INTERFACE_OWNERS, const.DEVICE_OWNER_ROUTER_SNAT,
                      const.DEVICE_OWNER_ROUTER_GW)


@dataclass(frozen=True, slots=True)
class Pool:
    first: int
    last: int

    def as_dict(self, version: int) -> dict[str, str]:
        return {"start": str(ip_from_int(self.first, version)),
                "end": str(ip_from_int(self.last, version))}

    def text(self, version: int) -> str:
        """netaddr's IPRange spelling, which Neutron's pool errors print."""
        return f"{ip_from_int(self.first, version)}-{ip_from_int(self.last, version)}"

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def ip_from_int(value: int, version: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def network(cidr: str) -> IPNetwork:
    """A subnet's network from its cidr, host bits masked ("10.0.0.5/24" is 10.0.0.0/24)."""
    return ipaddress.ip_network(cidr, strict=False)


def is_auto_address(ipv6_ra_mode: str | None, ipv6_address_mode: str | None = None) -> bool:
    """SLAAC or DHCPv6-stateless in either mode: addresses are EUI-64, not from a pool."""
    return ipv6_ra_mode in AUTO_ADDRESS_MODES or ipv6_address_mode in AUTO_ADDRESS_MODES


# --- validation of a subnet's attributes ---------------------------------------------------
def check_ip_version(name: str, value: str, ip_version: int) -> None:
    if ipaddress.ip_network(value, strict=False).version != ip_version:
        raise exc.InvalidInput(
            error_message=f"{name} '{value}' does not match the ip_version '{ip_version}'"
        )


@dataclass(slots=True)
class SubnetSpec:
    """What _validate_subnet looks at; None where the request leaves a value unset."""

    ip_version: int
    cidr: str | None
    enable_dhcp: bool
    gateway_ip: str | None = None
    dns_nameservers: list[str] | None = None
    host_routes: list[dict[str, str]] | None = None
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None
    # the id printed in limit errors: "new subnet" on create
    subnet_id: str = "new subnet"


def validate_subnet(spec: SubnetSpec, *, max_dns_nameservers: int,
                    max_subnet_host_routes: int, dhcp_was_enabled: bool = False,
                    updating: bool = False, had_ipv6_modes: bool = False) -> None:
    """Neutron's checks, in Neutron's order; the first failure is the answer."""
    version = spec.ip_version
    net = None
    if spec.cidr is not None:
        check_ip_version("cidr", spec.cidr, version)
        net = network(spec.cidr)
    if net is not None and version == 6 and int(net.network_address) == 0:
        raise exc.InvalidInput(error_message="IPv6 subnet '::' is not supported")
    if net is not None and spec.enable_dhcp and not dhcp_was_enabled:
        _check_dhcp_capable(net)
    if spec.gateway_ip:
        check_ip_version("gateway_ip", spec.gateway_ip, version)
        if net is not None and gateway_invalid_in_subnet(net, spec.gateway_ip):
            raise exc.InvalidInput(error_message="Gateway is not valid on subnet")
    if spec.dns_nameservers is not None:
        if len(spec.dns_nameservers) > max_dns_nameservers:
            raise exc.DNSNameServersExhausted(subnet_id=spec.subnet_id,
                                              quota=max_dns_nameservers)
        for server in spec.dns_nameservers:
            check_ip_version("dns_nameserver", server, version)
    if spec.host_routes is not None:
        if len(spec.host_routes) > max_subnet_host_routes:
            raise exc.HostRoutesExhausted(subnet_id=spec.subnet_id,
                                          quota=max_subnet_host_routes)
        for route in spec.host_routes:
            check_ip_version("nexthop", route["nexthop"], version)
            check_ip_version("destination", route["destination"], version)
    if version == 4:
        for name in ("ipv6_ra_mode", "ipv6_address_mode"):
            if getattr(spec, name) is not None:
                raise exc.InvalidInput(error_message=f"{name} is not valid when ip_version is 4")
    elif updating:
        if not spec.enable_dhcp and had_ipv6_modes:
            raise exc.InvalidInput(
                error_message="Cannot disable enable_dhcp with ipv6 attributes set")
    else:
        validate_ipv6_modes(spec.ipv6_ra_mode, spec.ipv6_address_mode, spec.enable_dhcp, net)


def _check_dhcp_capable(net: IPNetwork) -> None:
    """What a DHCP server cannot serve (checked when DHCP is switched on)."""
    if (net.version == 4 and net.prefixlen > 30) or (net.version == 6 and net.prefixlen > 126):
        raise exc.InvalidInput(error_message="Subnet has a prefix length that is incompatible "
                               "with DHCP service enabled")
    if net.is_multicast:
        raise exc.InvalidInput(
            error_message="Multicast IP subnet is not supported if enable_dhcp is True")
    if net.is_loopback:
        raise exc.InvalidInput(
            error_message="Loopback IP subnet is not supported if enable_dhcp is True")
    if net.version == 4 and int(net.network_address) == 0:
        raise exc.InvalidInput(error_message="First IP '0.0.0.0' of network is not supported "
                               "if enable_dhcp is True.")


def validate_ipv6_modes(ra_mode: str | None, address_mode: str | None, enable_dhcp: bool,
                        net: IPNetwork | None) -> None:
    if not enable_dhcp and (ra_mode or address_mode):
        raise exc.InvalidInput(
            error_message="ipv6_ra_mode or ipv6_address_mode cannot be set when "
            "enable_dhcp is set to False"
        )
    if ra_mode and address_mode and ra_mode != address_mode:
        raise exc.InvalidInput(
            error_message=f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to "
            f"'{address_mode}' is not valid. If both attributes are set, they must be the "
            "same value"
        )
    if net is not None and is_auto_address(ra_mode, address_mode) and net.prefixlen != 64:
        raise exc.InvalidInput(
            error_message=f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the "
            "EUI-64 address format, which requires the prefix to be /64"
        )


def check_prefixlen(net: IPNetwork) -> None:
    # dnsmasq cannot serve /0 (Neutron bug 1362651)
    if net.prefixlen == 0:
        raise exc.InvalidInput(error_message="0 is not allowed as CIDR prefix length")


def check_network_mtu(net_id: str, mtu: int, ip_versions: Iterable[int]) -> None:
    """A network's MTU must carry every subnet's IP version: 68 for IPv4, 1280 for IPv6.
    (Neutron checks a requested MTU as given: 0, "the largest", is refused once the
    network has subnets.)"""
    if mtu >= IPV6_MIN_MTU:
        return
    versions = set(ip_versions)
    if not versions:
        return
    if mtu < IPV4_MIN_MTU:
        raise exc.NetworkMTUSubnetConflict(net_id=net_id, mtu=IPV4_MIN_MTU)
    if 6 in versions:
        raise exc.NetworkMTUSubnetConflict(net_id=net_id, mtu=IPV6_MIN_MTU)


# --- gateways ------------------------------------------------------------------------------
def gateway_invalid_in_subnet(net: IPNetwork, gateway: str) -> bool:
    """Inside its subnet an IPv4 gateway cannot be the network or the last address; any
    address outside is fine (reached on-link)."""
    gw = ipaddress.ip_address(gateway)
    return (gw.version == net.version and gw in net and net.version == 4
            and gw in (net.network_address, net.broadcast_address))


def default_gateway(net: IPNetwork) -> str | None:
    """IPv4: the first address after the network's; IPv6: the network (subnet-router
    anycast) address itself, as Neutron has done since 2019."""
    if net.version == 6:
        return str(net.network_address)
    value = int(net.network_address) + 1
    return str(ipaddress.IPv4Address(value)) if value < 2**32 else None


def check_default_gateway(net: IPNetwork, gateway: str | None) -> None:
    """IPAM's own check of the gateway it is given, which also catches a default one that
    is unusable (the last address of an IPv4 /31)."""
    if gateway and gateway_invalid_in_subnet(net, gateway):
        raise exc.IpamValueInvalid(
            f"Gateway IP {gateway} cannot be the network or broadcast IP address {net}")


# --- allocation pools ----------------------------------------------------------------------
def pool_bounds(net: IPNetwork) -> tuple[int, int]:
    """Where pools may lie: IPv4 without the network and broadcast addresses (all of a
    /31 or /32), IPv6 without the subnet-router anycast (first) address."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4 and net.prefixlen > 30:
        return first, last
    return first + 1, last - 1 if net.version == 4 else last


def default_pools(net: IPNetwork, gateway: str | None) -> list[Pool]:
    first, last = int(net.network_address), int(net.broadcast_address)
    if first == last:
        return [Pool(first, last)]  # a single-address subnet
    lo, hi = pool_bounds(net)
    pools = [Pool(lo, hi)] if lo <= hi else []
    if gateway is not None:
        pools = list(_exclude(pools, int(ipaddress.ip_address(gateway))))
    return pools


def _exclude(pools: Iterable[Pool], address: int) -> Iterable[Pool]:
    for p in pools:
        if p.first <= address <= p.last:
            if p.first < address:
                yield Pool(p.first, address - 1)
            if address < p.last:
                yield Pool(address + 1, p.last)
        else:
            yield p


def parse_pools(net: IPNetwork, pools: Sequence[dict[str, str]]) -> list[Pool]:
    """User-given pools: well formed, of the subnet's version, inside its bounds, not
    overlapping each other (Neutron's pools_to_ip_range + validate_allocation_pools)."""
    result: list[Pool] = []
    versions: list[int] = []
    for p in pools:
        try:
            start, end = ipaddress.ip_address(p["start"]), ipaddress.ip_address(p["end"])
            if start.version != end.version or start > end:
                raise ValueError
        except ValueError:
            text = f"{{'start': '{p['start']}', 'end': '{p['end']}'}}"
            raise exc.InvalidAllocationPool(pool=text) from None
        result.append(Pool(int(start), int(end)))
        versions.append(start.version)
    lo, hi = pool_bounds(net)
    for pool, version in zip(result, versions, strict=True):
        if version != net.version:
            raise exc.InvalidAllocationPool(pool=pool.text(version))
        if pool.first < lo or pool.last > hi:
            raise exc.OutOfBoundsAllocationPool(pool=pool.text(net.version),
                                                subnet_cidr=str(net))
    for i, a in enumerate(result):
        for b in result[i + 1:]:
            if a.first <= b.last and b.first <= a.last:
                raise exc.OverlappingAllocationPools(
                    pool_1=a.text(net.version), pool_2=b.text(net.version),
                    subnet_cidr=str(net))
    return result


def check_gateway_outside_pools(gateway: str | None, pools: list[Pool], version: int) -> None:
    if not gateway:
        return
    gw = ipaddress.ip_address(gateway)
    if gw.version != version:
        return
    for p in pools:
        if p.first <= int(gw) <= p.last:
            raise exc.GatewayConflictWithAllocationPools(ip_address=gateway,
                                                         pool=p.text(version))


# --- addresses -----------------------------------------------------------------------------
def check_subnet_ip(net: IPNetwork, ip: str, device_owner: str = "") -> bool:
    """Whether a port may hold ``ip`` on the subnet: IPv4 not the network or broadcast
    address (a /31 or /32 has no broadcast); IPv6 not the network address, except for
    router ports and owner-less ports."""
    addr = ipaddress.ip_address(ip)
    if addr.version != net.version or addr not in net:
        return False
    if net.version == 4:
        return addr != net.network_address and (
            net.prefixlen > 30 or addr != net.broadcast_address)
    return device_owner in (*ROUTER_PORT_OWNERS, "") or addr != net.network_address


def eui64(net: IPNetwork, mac: str) -> str:
    """SLAAC address: the /64 prefix plus the modified EUI-64 interface id of the MAC."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = [*octets[:3], 255, 254, *octets[3:]]
    value = int(net.network_address) | int.from_bytes(bytes(iid), "big")
    return str(ipaddress.IPv6Address(value))


def is_eui64(ip: str) -> bool:
    """An IPv6 address whose interface id carries the ff:fe of a MAC-derived one."""
    addr = ipaddress.ip_address(ip)
    return addr.version == 6 and (int(addr) >> 24) & 0xFFFF == 0xFFFE
