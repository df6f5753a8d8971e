"""core/ipam/subnet_math.py: Neutron's subnet rules as pure functions."""

from __future__ import annotations

import ipaddress

import pytest

from neutrino import exceptions as exc
from neutrino.core.ipam import subnet_math as sm

LIMITS = {"max_dns_nameservers": 5, "max_subnet_host_routes": 20}


def net(cidr: str) -> sm.IPNetwork:
    return sm.network(cidr)


def pools(n: sm.IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    return [p.as_dict(n.version) for p in sm.default_pools(n, gateway)]


@pytest.mark.parametrize(("cidr", "gateway"), [
    ("10.0.0.0/24", "10.0.0.1"),
    ("10.0.0.5/32", "10.0.0.6"),  # network + 1, even outside the subnet (as Neutron)
    ("255.255.255.255/32", None),
    ("2001:db8::/64", "2001:db8::"),  # IPv6: the network (subnet-router anycast) address
    ("2001:db8::1/128", "2001:db8::1"),
])
def test_default_gateway(cidr: str, gateway: str | None) -> None:
    assert sm.default_gateway(net(cidr)) == gateway


@pytest.mark.parametrize(("cidr", "gateway", "expected"), [
    ("10.0.0.0/24", "10.0.0.1", [("10.0.0.2", "10.0.0.254")]),
    ("10.0.0.0/24", None, [("10.0.0.1", "10.0.0.254")]),
    ("10.0.0.0/24", "10.0.0.100", [("10.0.0.1", "10.0.0.99"), ("10.0.0.101", "10.0.0.254")]),
    ("10.0.0.0/24", "192.168.0.1", [("10.0.0.1", "10.0.0.254")]),
    ("10.0.0.0/30", "10.0.0.1", [("10.0.0.2", "10.0.0.2")]),
    ("10.0.0.0/31", None, [("10.0.0.0", "10.0.0.1")]),
    ("10.0.0.5/32", "10.0.0.6", [("10.0.0.5", "10.0.0.5")]),
    ("2001:db8::/64", "2001:db8::", [("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")]),
    ("2001:db8::/64", "2001:db8::1", [("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff")]),
    ("2001:db8::/127", None, [("2001:db8::1", "2001:db8::1")]),
    ("2001:db8::1/128", "2001:db8::1", [("2001:db8::1", "2001:db8::1")]),
])
def test_default_pools(cidr: str, gateway: str | None, expected: list[tuple[str, str]]
                       ) -> None:
    assert pools(net(cidr), gateway) == [{"start": s, "end": e} for s, e in expected]


def test_gateway_validity() -> None:
    n = net("10.0.0.0/24")
    assert sm.gateway_invalid_in_subnet(n, "10.0.0.0")
    assert sm.gateway_invalid_in_subnet(n, "10.0.0.255")
    assert not sm.gateway_invalid_in_subnet(n, "10.0.0.1")
    assert not sm.gateway_invalid_in_subnet(n, "10.9.0.0")  # outside: on-link, unchecked
    assert sm.gateway_invalid_in_subnet(net("10.0.0.0/31"), "10.0.0.1")
    assert not sm.gateway_invalid_in_subnet(net("2001:db8::/64"), "2001:db8::")
    with pytest.raises(exc.IpamValueInvalid, match="cannot be the network or broadcast"):
        sm.check_default_gateway(net("10.0.0.0/31"), "10.0.0.1")
    sm.check_default_gateway(net("10.0.0.5/32"), "10.0.0.6")


def _spec(cidr: str | None = "10.0.0.0/24", **kw: object) -> sm.SubnetSpec:
    version = kw.pop("ip_version", 6 if cidr and ":" in cidr else 4)
    return sm.SubnetSpec(ip_version=version, cidr=cidr,  # type: ignore[arg-type]
                         enable_dhcp=kw.pop("enable_dhcp", True), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("spec", "error", "message"), [
    (_spec("10.0.0.0/24", ip_version=6), exc.InvalidInput,
     "cidr '10.0.0.0/24' does not match the ip_version '6'"),
    (_spec("::/64"), exc.InvalidInput, "IPv6 subnet '::' is not supported"),
    (_spec("::/64", enable_dhcp=False), exc.InvalidInput, "IPv6 subnet '::' is not supported"),
    (_spec("10.0.0.0/31"), exc.InvalidInput, "incompatible with DHCP service enabled"),
    (_spec("2001:db8::/127"), exc.InvalidInput, "incompatible with DHCP service enabled"),
    (_spec("224.0.0.0/4"), exc.InvalidInput, "Multicast IP subnet is not supported"),
    (_spec("127.0.0.0/8"), exc.InvalidInput, "Loopback IP subnet is not supported"),
    (_spec("::1/128", enable_dhcp=True), exc.InvalidInput, "prefix length"),
    (_spec("0.0.0.0/8"), exc.InvalidInput, "First IP '0.0.0.0' of network is not supported"),
    (_spec(gateway_ip="2001::1"), exc.InvalidInput,
     "gateway_ip '2001::1' does not match the ip_version '4'"),
    (_spec(gateway_ip="10.0.0.255"), exc.InvalidInput, "Gateway is not valid on subnet"),
    (_spec(dns_nameservers=["1.1.1.1"] * 6), exc.DNSNameServersExhausted,
     "Unable to complete operation for new subnet. The number of DNS nameservers exceeds "
     "the limit 5."),
    (_spec(dns_nameservers=["::1"]), exc.InvalidInput,
     "dns_nameserver '::1' does not match the ip_version '4'"),
    (_spec(host_routes=[{"destination": "0.0.0.0/0", "nexthop": "10.0.0.1"}] * 21),
     exc.HostRoutesExhausted, "The number of host routes exceeds the limit 20."),
    (_spec(host_routes=[{"destination": "::/0", "nexthop": "10.0.0.1"}]), exc.InvalidInput,
     "destination '::/0' does not match the ip_version '4'"),
    (_spec(ipv6_address_mode="slaac"), exc.InvalidInput,
     "ipv6_address_mode is not valid when ip_version is 4"),
    (_spec("2001:db8::/64", ipv6_ra_mode="slaac", enable_dhcp=False), exc.InvalidInput,
     "cannot be set when enable_dhcp is set to False"),
    (_spec("2001:db8::/64", ipv6_ra_mode="slaac", ipv6_address_mode="dhcpv6-stateless"),
     exc.InvalidInput, "If both attributes are set, they must be the same value"),
    (_spec("2001:db8::/56", ipv6_address_mode="dhcpv6-stateless"), exc.InvalidInput,
     "Invalid CIDR 2001:db8::/56 for IPv6 address mode."),
])
def test_validate_subnet_refuses(spec: sm.SubnetSpec, error: type[Exception],
                                 message: str) -> None:
    with pytest.raises(error) as caught:
        sm.validate_subnet(spec, **LIMITS)
    assert message in str(caught.value)


@pytest.mark.parametrize("spec", [
    _spec("10.0.0.0/31", enable_dhcp=False),
    _spec("10.0.0.0/32", enable_dhcp=False),
    _spec("224.0.0.0/24", enable_dhcp=False),
    _spec(gateway_ip="192.168.1.1"),
    _spec("2001:db8::/64", gateway_ip="2001:db8::"),
    _spec("2001:db8::/80", ipv6_address_mode="dhcpv6-stateful"),
    _spec("2001:db8::/64", ipv6_ra_mode="slaac"),
    _spec(dns_nameservers=["1.1.1.1"] * 5, host_routes=[]),
])
def test_validate_subnet_accepts(spec: sm.SubnetSpec) -> None:
    sm.validate_subnet(spec, **LIMITS)


def test_validate_subnet_update_rules() -> None:
    # DHCP checks only when DHCP is being switched on
    sm.validate_subnet(_spec("10.0.0.0/31"), **LIMITS, dhcp_was_enabled=True, updating=True)
    with pytest.raises(exc.InvalidInput, match="Cannot disable enable_dhcp"):
        sm.validate_subnet(_spec("2001:db8::/64", enable_dhcp=False), **LIMITS,
                           dhcp_was_enabled=True, updating=True, had_ipv6_modes=True)


def test_parse_pools() -> None:
    n = net("10.0.0.0/24")
    got = sm.parse_pools(n, [{"start": "10.0.0.100", "end": "10.0.0.110"},
                             {"start": "10.0.0.2", "end": "10.0.0.9"}])
    assert [p.as_dict(4) for p in got] == [{"start": "10.0.0.100", "end": "10.0.0.110"},
                                          {"start": "10.0.0.2", "end": "10.0.0.9"}]
    with pytest.raises(exc.OutOfBoundsAllocationPool,
                       match=r"10\.0\.0\.0-10\.0\.0\.5 spans beyond"):
        sm.parse_pools(n, [{"start": "10.0.0.0", "end": "10.0.0.5"}])
    with pytest.raises(exc.OutOfBoundsAllocationPool):
        sm.parse_pools(n, [{"start": "10.0.0.250", "end": "10.0.0.255"}])
    with pytest.raises(exc.InvalidAllocationPool, match=r"\{'start': '10.0.0.9', 'end': "):
        sm.parse_pools(n, [{"start": "10.0.0.9", "end": "10.0.0.2"}])
    with pytest.raises(exc.InvalidAllocationPool, match="2001::1-2001::2 is not valid"):
        sm.parse_pools(n, [{"start": "2001::1", "end": "2001::2"}])
    # malformed pools are reported before version or bounds problems of earlier ones
    with pytest.raises(exc.InvalidAllocationPool, match=r"'start': '10\.0\.0\.9'"):
        sm.parse_pools(n, [{"start": "2001::1", "end": "2001::2"},
                           {"start": "10.0.0.9", "end": "10.0.0.2"}])
    with pytest.raises(exc.OverlappingAllocationPools) as caught:
        sm.parse_pools(n, [{"start": "10.0.0.50", "end": "10.0.0.60"},
                           {"start": "10.0.0.2", "end": "10.0.0.5"},
                           {"start": "10.0.0.55", "end": "10.0.0.70"}])
    assert str(caught.value) == ("Found overlapping allocation pools: 10.0.0.50-10.0.0.60 "
                                 "10.0.0.55-10.0.0.70 for subnet 10.0.0.0/24.")
    # /31 and /32: every address; IPv6: not the first one, the last one yes
    assert sm.parse_pools(net("10.0.0.0/31"), [{"start": "10.0.0.0", "end": "10.0.0.1"}])
    v6 = net("2001:db8::/120")
    assert sm.parse_pools(v6, [{"start": "2001:db8::1", "end": "2001:db8::ff"}])
    with pytest.raises(exc.OutOfBoundsAllocationPool):
        sm.parse_pools(v6, [{"start": "2001:db8::", "end": "2001:db8::ff"}])


def test_gateway_outside_pools() -> None:
    got = sm.parse_pools(net("10.0.0.0/24"), [{"start": "10.0.0.2", "end": "10.0.0.9"}])
    sm.check_gateway_outside_pools("10.0.0.1", got, 4)
    sm.check_gateway_outside_pools(None, got, 4)
    with pytest.raises(exc.GatewayConflictWithAllocationPools) as caught:
        sm.check_gateway_outside_pools("10.0.0.5", got, 4)
    assert str(caught.value) == "Gateway ip 10.0.0.5 conflicts with allocation pool " \
        "10.0.0.2-10.0.0.9."


def test_prefixlen_and_mtu() -> None:
    with pytest.raises(exc.InvalidInput, match="0 is not allowed as CIDR prefix length"):
        sm.check_prefixlen(net("0.0.0.0/0"))
    sm.check_prefixlen(net("10.0.0.0/8"))
    sm.check_network_mtu("n", 1280, [4, 6])
    sm.check_network_mtu("n", 100, [])
    sm.check_network_mtu("n", 68, [4])
    with pytest.raises(exc.NetworkMTUSubnetConflict, match="minimum of 68"):
        sm.check_network_mtu("n", 67, [4, 6])
    with pytest.raises(exc.NetworkMTUSubnetConflict) as caught:
        sm.check_network_mtu("n", 1279, [4, 6])
    assert str(caught.value) == "MTU of n is not valid, subnet requires a minimum of 1280"


def test_check_subnet_ip() -> None:
    n = net("10.0.0.0/24")
    assert sm.check_subnet_ip(n, "10.0.0.1")
    assert not sm.check_subnet_ip(n, "10.0.0.0")
    assert not sm.check_subnet_ip(n, "10.0.0.255")
    assert not sm.check_subnet_ip(n, "10.0.1.1")
    assert not sm.check_subnet_ip(n, "2001::1")
    pair = net("10.0.0.0/31")  # no broadcast address; the network address still refused
    assert sm.check_subnet_ip(pair, "10.0.0.1") and not sm.check_subnet_ip(pair, "10.0.0.0")
    v6 = net("2001:db8::/64")
    assert sm.check_subnet_ip(v6, "2001:db8::")
    assert sm.check_subnet_ip(v6, "2001:db8::", "network:router_interface")
    assert not sm.check_subnet_ip(v6, "2001:db8::", "compute:nova")
    assert sm.check_subnet_ip(v6, "2001:db8::ffff:ffff:ffff:ffff", "compute:nova")


def test_eui64() -> None:
    assert sm.eui64(net("2001:db8::/64"), "fa:16:3e:12:34:56") == \
        "2001:db8::f816:3eff:fe12:3456"
    assert sm.eui64(net("2001:db8:1:2::/64"), "00:00:00:00:00:01") == \
        "2001:db8:1:2:200:ff:fe00:1"
    assert sm.is_eui64("2001:db8::f816:3eff:fe12:3456")
    assert not sm.is_eui64("2001:db8::5")
    assert not sm.is_eui64("10.0.0.1")


def test_auto_address_modes() -> None:
    assert sm.is_auto_address("slaac", None)
    assert sm.is_auto_address(None, "dhcpv6-stateless")
    assert sm.is_auto_address("dhcpv6-stateless", "dhcpv6-stateless")
    assert not sm.is_auto_address("dhcpv6-stateful", None)
    assert not sm.is_auto_address(None, None)


def test_pool_text() -> None:
    p = sm.Pool(int(ipaddress.ip_address("2001:db8::1")), int(ipaddress.ip_address("2001:db8::9")))
    assert p.text(6) == "2001:db8::1-2001:db8::9"
    assert p.size == 9
