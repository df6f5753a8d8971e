"""Pure subnet arithmetic and validation: gateways, allocation pools, IPv6 modes, EUI-64.

No database here, so all of it is unit-tested directly.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from neutrino import exceptions as exc

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")


@dataclass(frozen=True, slots=True)
class Pool:
    first: int
    last: int

    def as_dict(self, version: int) -> dict[str, str]:
        return {"start": str(ip_from_int(self.first, version)),
                "end": str(ip_from_int(self.last, version))}

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def ip_from_int(value: int, version: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def network(cidr: str) -> IPNetwork:
    return ipaddress.ip_network(cidr)


def is_auto_address(ipv6_address_mode: str | None) -> bool:
    return ipv6_address_mode in AUTO_ADDRESS_MODES


def usable_range(net: IPNetwork) -> tuple[int, int]:
    """First and last address a host may have: IPv4 leaves out the network and broadcast
    addresses (except /31 and /32), IPv6 leaves out the subnet-router anycast address."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        if net.prefixlen >= 31:
            return first, last
        return first + 1, last - 1
    if net.prefixlen == 128:
        return first, last
    return first + 1, last


def default_gateway(net: IPNetwork) -> str | None:
    first, last = usable_range(net)
    if first > last:
        return None
    return str(ip_from_int(first, net.version))


def default_pools(net: IPNetwork, gateway: str | None) -> list[Pool]:
    first, last = usable_range(net)
    pools = [Pool(first, last)] if first <= last else []
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        pools = list(_exclude(pools, gw))
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


def validate_cidr(cidr: str, ip_version: int) -> IPNetwork:
    net = network(cidr)
    if net.version != ip_version:
        raise exc.InvalidInput(
            error_message=f"Cidr {cidr} does not match IP version {ip_version}"
        )
    if (net.version == 4 and net.prefixlen == 32) or (net.version == 6 and net.prefixlen == 128):
        raise exc.InvalidInput(
            error_message=f"Invalid CIDR {cidr} for subnet: no usable addresses"
        )
    return net


def validate_gateway(net: IPNetwork, gateway: str) -> None:
    gw = ipaddress.ip_address(gateway)
    if gw.version != net.version:
        raise exc.InvalidInput(
            error_message=f"Invalid input for gateway_ip. Reason: '{gateway}' does not match "
            f"the IP version of the subnet."
        )
    # A gateway outside the subnet is allowed (routers reached on-link); inside it, it must
    # not be the network or broadcast address.
    if gw in net:
        first, last = usable_range(net)
        if not first <= int(gw) <= last:
            raise exc.InvalidInput(error_message=f"Gateway is not valid on subnet {net}")


def parse_pools(net: IPNetwork, pools: list[dict[str, str]]) -> list[Pool]:
    """Validate user-given allocation pools: same version, inside the CIDR's usable range,
    start <= end, not overlapping."""
    result: list[Pool] = []
    first_ok, last_ok = usable_range(net)
    for p in pools:
        start, end = ipaddress.ip_address(p["start"]), ipaddress.ip_address(p["end"])
        text = f"{{'start': '{start}', 'end': '{end}'}}"
        if start.version != net.version or end.version != net.version or start > end:
            raise exc.InvalidAllocationPool(pool=text)
        if not (start in net and end in net) or int(start) < first_ok or int(end) > last_ok:
            raise exc.OutOfBoundsAllocationPool(pool=text, subnet_cidr=str(net))
        result.append(Pool(int(start), int(end)))
    ordered = sorted(result, key=lambda p: p.first)
    for a, b in itertools.pairwise(ordered):
        if b.first <= a.last:
            raise exc.OverlappingAllocationPools(
                pool_1=_pool_text(a, net.version), pool_2=_pool_text(b, net.version),
                subnet_cidr=str(net),
            )
    return result


def _pool_text(p: Pool, version: int) -> str:
    return f"{ip_from_int(p.first, version)}-{ip_from_int(p.last, version)}"


def check_gateway_outside_pools(gateway: str | None, pools: list[Pool], version: int) -> None:
    if gateway is None:
        return
    gw = int(ipaddress.ip_address(gateway))
    for p in pools:
        if p.first <= gw <= p.last:
            raise exc.GatewayConflictWithAllocationPools(
                ip_address=gateway, pool=_pool_text(p, version)
            )


def validate_ipv6_modes(ip_version: int, ra_mode: str | None, address_mode: str | None,
                        enable_dhcp: bool, net: IPNetwork) -> None:
    if ip_version == 4:
        for name, value in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
            if value is not None:
                raise exc.InvalidInput(
                    error_message=f"{name} is not valid when ip_version is 4"
                )
        return
    if ra_mode and address_mode and ra_mode != address_mode:
        raise exc.InvalidInput(
            error_message=f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to "
            f"'{address_mode}' is not valid. If both attributes are set, they must be the "
            "same value"
        )
    if not enable_dhcp and (ra_mode or address_mode):
        raise exc.InvalidInput(
            error_message="ipv6_ra_mode or ipv6_address_mode cannot be set when "
            "enable_dhcp is set to False"
        )
    if (is_auto_address(address_mode) or is_auto_address(ra_mode)) and net.prefixlen != 64:
        raise exc.InvalidInput(
            error_message=f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the "
            "EUI-64 address format, which requires the prefix to be /64"
        )


def validate_host_routes(routes: list[dict[str, str]], ip_version: int) -> None:
    for r in routes:
        dest = ipaddress.ip_network(r["destination"])
        hop = ipaddress.ip_address(r["nexthop"])
        if dest.version != ip_version or hop.version != ip_version:
            raise exc.InvalidInput(
                error_message=f"Invalid route: {r}, the destination and nexthop must be of "
                f"IP version {ip_version}"
            )


def validate_nameservers(servers: list[str], ip_version: int) -> None:
    # Neutron accepts nameservers of either family on any subnet (dual-stack resolvers).
    del servers, ip_version


def eui64(net: IPNetwork, mac: str) -> str:
    """SLAAC address: the /64 prefix plus the modified EUI-64 interface id of the MAC."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = [*octets[:3], 255, 254, *octets[3:]]
    value = int(net.network_address) | int.from_bytes(bytes(iid), "big")
    return str(ipaddress.IPv6Address(value))
