"""Subnets over HTTP: defaults (IPv4 and IPv6), every validation of Neutron's
_validate_subnet and pool checks, updates, deletion rules and who may do what."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.neutron import Api, expect_error, invalid_input
from tests.support.server import Server, project_headers

SUBNET_KEYS = {"id", "name", "network_id", "ip_version", "subnetpool_id", "cidr",
               "gateway_ip", "allocation_pools", "dns_nameservers", "host_routes",
               "project_id", "tenant_id", "enable_dhcp", "ipv6_ra_mode",
               "ipv6_address_mode", "description", "created_at", "updated_at",
               "revision_number", "tags",
               # subnet-external-network, subnet-service-types
               "router:external", "service_types"}


@pytest.fixture
def net(api: Api) -> dict[str, Any]:
    return api.network()


def post(api: Api, net: dict[str, Any], cidr: str | None, **attrs: Any) -> tuple[int, Any]:
    body = {"network_id": net["id"], "ip_version": 6 if cidr and ":" in cidr else 4, **attrs}
    if cidr is not None:
        body["cidr"] = cidr
    return api.post("subnets", body)


# --- defaults ------------------------------------------------------------------------------
def test_ipv4_defaults(api: Api, net: dict[str, Any], project: str) -> None:
    sub = api.subnet(net["id"], "10.0.0.5/24", name="s4")
    assert set(sub) == SUBNET_KEYS
    assert sub["cidr"] == "10.0.0.0/24"  # masked to the network address
    assert sub["gateway_ip"] == "10.0.0.1"
    assert sub["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert (sub["dns_nameservers"], sub["host_routes"]) == ([], [])
    assert (sub["enable_dhcp"], sub["ipv6_ra_mode"], sub["ipv6_address_mode"],
            sub["subnetpool_id"]) == (True, None, None, None)
    assert (sub["project_id"], sub["tenant_id"], sub["revision_number"]) == (
        project, project, 1)
    assert api.get("subnets", sub["id"]) == (200, {"subnet": sub})
    # a subnet is a new revision of its network
    network = api.get("networks", net["id"])[1]["network"]
    assert network["subnets"] == [sub["id"]]
    assert network["revision_number"] == net["revision_number"] + 1


def test_ipv6_defaults(api: Api, net: dict[str, Any]) -> None:
    sub = api.subnet(net["id"], "2001:0db8:0000:0000::/64")
    assert sub["cidr"] == "2001:db8::/64"
    # the gateway is the subnet-router anycast (network) address; pools start after it
    assert sub["gateway_ip"] == "2001:db8::"
    assert sub["allocation_pools"] == [{"start": "2001:db8::1",
                                        "end": "2001:db8::ffff:ffff:ffff:ffff"}]
    other = api.subnet(api.network()["id"], "2001:db8:1::/64", gateway_ip="2001:db8:1::1")
    assert other["allocation_pools"] == [{"start": "2001:db8:1::2",
                                          "end": "2001:db8:1:0:ffff:ffff:ffff:ffff"}]
    explicit = api.subnet(api.network()["id"], "2001:db8:2::/64",
                          gateway_ip="2001:db8:2::")  # the network address is a fine gateway
    assert explicit["gateway_ip"] == "2001:db8:2::"


def test_gateway_choices(api: Api) -> None:
    none = api.subnet(api.network()["id"], "10.1.0.0/24", gateway_ip=None)
    assert none["gateway_ip"] is None
    assert none["allocation_pools"] == [{"start": "10.1.0.1", "end": "10.1.0.254"}]
    last = api.subnet(api.network()["id"], "10.1.1.0/24", gateway_ip="10.1.1.254")
    assert last["allocation_pools"] == [{"start": "10.1.1.1", "end": "10.1.1.253"}]
    middle = api.subnet(api.network()["id"], "10.1.2.0/24", gateway_ip="10.1.2.100")
    assert middle["allocation_pools"] == [{"start": "10.1.2.1", "end": "10.1.2.99"},
                                          {"start": "10.1.2.101", "end": "10.1.2.254"}]
    outside = api.subnet(api.network()["id"], "10.1.3.0/24", gateway_ip="192.168.7.1")
    assert outside["gateway_ip"] == "192.168.7.1"  # reached on-link
    pools = api.subnet(api.network()["id"], "10.1.4.0/24",
                       allocation_pools=[{"start": "10.1.4.10", "end": "10.1.4.20"}])
    assert pools["allocation_pools"] == [{"start": "10.1.4.10", "end": "10.1.4.20"}]
    empty = api.subnet(api.network()["id"], "10.1.5.0/24", allocation_pools=None)
    assert empty["allocation_pools"] == []


def test_tiny_subnets(api: Api, net: dict[str, Any]) -> None:
    # /31 and /32 only without DHCP; all their addresses are usable
    host = api.subnet(net["id"], "10.2.0.5/32", enable_dhcp=False)
    assert host["cidr"] == "10.2.0.5/32"
    assert host["gateway_ip"] == "10.2.0.6"  # network + 1, as Neutron computes it
    assert host["allocation_pools"] == [{"start": "10.2.0.5", "end": "10.2.0.5"}]
    pair = api.subnet(net["id"], "10.2.1.0/31", enable_dhcp=False, gateway_ip=None)
    assert pair["allocation_pools"] == [{"start": "10.2.1.0", "end": "10.2.1.1"}]
    # the default gateway of a /31 is its last address, which IPAM refuses
    expect_error(post(api, net, "10.2.2.0/31", enable_dhcp=False), 409, "IpamValueInvalid",
                 "Gateway IP 10.2.2.1 cannot be the network or broadcast IP address "
                 "10.2.2.0/31")
    for cidr in ("10.2.3.0/31", "10.2.4.0/32", "2001:db8:9::/127"):
        expect_error(post(api, net, cidr), 400, "InvalidInput", invalid_input(
            "Subnet has a prefix length that is incompatible with DHCP service enabled"))


@pytest.mark.parametrize(("cidr", "attrs", "reason"), [
    ("224.0.0.0/24", {}, "Multicast IP subnet is not supported if enable_dhcp is True"),
    ("ff02::/64", {}, "Multicast IP subnet is not supported if enable_dhcp is True"),
    ("127.0.0.0/24", {}, "Loopback IP subnet is not supported if enable_dhcp is True"),
    ("0.0.0.0/24", {}, "First IP '0.0.0.0' of network is not supported if enable_dhcp is True."),
    ("0.0.0.0/0", {"enable_dhcp": False}, "0 is not allowed as CIDR prefix length"),
    ("::/64", {}, "IPv6 subnet '::' is not supported"),
    ("10.3.0.0/24", {"ip_version": 6}, "cidr '10.3.0.0/24' does not match the ip_version '6'"),
    ("2001:db8::/64", {"ip_version": 4},
     "cidr '2001:db8::/64' does not match the ip_version '4'"),
    ("10.3.0.0/24", {"gateway_ip": "2001:db8::1"},
     "gateway_ip '2001:db8::1' does not match the ip_version '4'"),
    ("10.3.0.0/24", {"gateway_ip": "10.3.0.0"}, "Gateway is not valid on subnet"),
    ("10.3.0.0/24", {"gateway_ip": "10.3.0.255"}, "Gateway is not valid on subnet"),
    ("10.3.0.0/24", {"dns_nameservers": ["8.8.8.8", "2001:4860::8888"]},
     "dns_nameserver '2001:4860::8888' does not match the ip_version '4'"),
    ("10.3.0.0/24", {"host_routes": [{"destination": "10.9.0.0/16", "nexthop": "2001::1"}]},
     "nexthop '2001::1' does not match the ip_version '4'"),
    ("10.3.0.0/24", {"host_routes": [{"destination": "2001:1::/64", "nexthop": "10.3.0.9"}]},
     "destination '2001:1::/64' does not match the ip_version '4'"),
    ("10.3.0.0/24", {"ipv6_ra_mode": "slaac"}, "ipv6_ra_mode is not valid when ip_version is 4"),
    ("10.3.0.0/24", {"ipv6_address_mode": "slaac"},
     "ipv6_address_mode is not valid when ip_version is 4"),
    ("2001:db8:3::/64", {"ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"},
     "ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to 'dhcpv6-stateful' is not "
     "valid. If both attributes are set, they must be the same value"),
    ("2001:db8:3::/64", {"ipv6_address_mode": "slaac", "enable_dhcp": False},
     "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"),
    ("2001:db8:3::/80", {"ipv6_ra_mode": "dhcpv6-stateless"},
     "Invalid CIDR 2001:db8:3::/80 for IPv6 address mode. OpenStack uses the EUI-64 address "
     "format, which requires the prefix to be /64"),
    ("garbage", {}, "garbage is not in a CIDR format"),
    ("10.3.0.0/33", {}, "10.3.0.0/33 is not in a CIDR format"),
    ("10.3.0.0/24", {"ip_version": "four"}, "'four' is not an integer"),
])
def test_invalid_input(api: Api, net: dict[str, Any], cidr: str, attrs: dict[str, Any],
                       reason: str) -> None:
    expect_error(post(api, net, cidr, **attrs), 400, "InvalidInput", invalid_input(reason))


@pytest.mark.parametrize(("attrs", "message"), [
    ({"ip_version": 5}, "Invalid input for ip_version. Reason: 5 is not in valid_values."),
    ({"ipv6_ra_mode": "dhcp"}, "Invalid input for ipv6_ra_mode. Reason: dhcp is not in "
     "valid_values."),
    ({"gateway_ip": "10.3.0.256"}, "Invalid input for gateway_ip. Reason: '10.3.0.256' is not "
     "a valid IP address."),
    ({"gateway_ip": "010.3.0.1"}, "Invalid input for gateway_ip. Reason: '010.3.0.1' is not an "
     "accepted IP address, '10.3.0.1' is recommended."),
    ({"dns_nameservers": ["8.8.8.8", "8.8.8.8"]},
     "Invalid input for dns_nameservers. Reason: Duplicate nameserver '8.8.8.8'."),
    ({"dns_nameservers": ["dns.example.org"]},
     "Invalid input for dns_nameservers. Reason: 'dns.example.org' is not a valid nameserver. "
     "'dns.example.org' is not a valid IP address."),
    ({"host_routes": [{"destination": "10.9.0.1/16", "nexthop": "10.3.0.9"}]},
     "Invalid input for host_routes. Reason: '10.9.0.1/16' is not a valid CIDR."),
    ({"host_routes": [{"destination": "127.0.0.0/8", "nexthop": "10.3.0.9"}]},
     "Invalid input for host_routes. Reason: '127.0.0.0/8' is not a routable CIDR."),
    ({"allocation_pools": [{"start": "10.3.0.5", "end": "nope"}]},
     "Invalid input for allocation_pools. Reason: 'nope' is not a valid IP address."),
    ({"enable_dhcp": "sometimes"}, None),
])
def test_invalid_values(api: Api, net: dict[str, Any], attrs: dict[str, Any],
                        message: str | None) -> None:
    if message is None:
        expect_error(post(api, net, "10.3.0.0/24", **attrs), 400, "InvalidInput",
                     invalid_input("'sometimes' cannot be converted to boolean"))
    else:
        expect_error(post(api, net, "10.3.0.0/24", **attrs), 400, "HTTPBadRequest", message)
    expect_error(post(api, net, "10.3.0.0/24", allocation_pools=[{"start": "10.3.0.5"}]), 400,
                 "HTTPBadRequest", contains="Reason: Validation of dictionary's keys failed. "
                 "Expected keys: ")
    expect_error(post(api, net, "10.3.0.0/24", allocation_pools="10.3.0.5-10.3.0.9"), 400,
                 "InvalidInput", invalid_input("Invalid data format for allocation pools"))


def test_limits(api: Api, net: dict[str, Any]) -> None:
    dns = [f"10.53.0.{i}" for i in range(1, 7)]
    expect_error(post(api, net, "10.4.0.0/24", dns_nameservers=dns), 400,
                 "DNSNameServersExhausted", "Unable to complete operation for new subnet. The "
                 "number of DNS nameservers exceeds the limit 5.")
    routes = [{"destination": f"10.{i}.0.0/16", "nexthop": "10.4.0.9"} for i in range(100, 121)]
    expect_error(post(api, net, "10.4.0.0/24", host_routes=routes), 400, "HostRoutesExhausted",
                 "Unable to complete operation for new subnet. The number of host routes "
                 "exceeds the limit 20.")
    ok = api.subnet(net["id"], "10.4.0.0/24", dns_nameservers=dns[:5], host_routes=routes[:20])
    assert ok["dns_nameservers"] == dns[:5]
    assert sorted(r["destination"] for r in ok["host_routes"]) == sorted(
        r["destination"] for r in routes[:20])


def test_allocation_pool_checks(api: Api, net: dict[str, Any]) -> None:
    def pools(*ranges: tuple[str, str], **attrs: Any) -> tuple[int, Any]:
        return post(api, net, "10.5.0.0/24", **attrs,
                    allocation_pools=[{"start": s, "end": e} for s, e in ranges])

    expect_error(pools(("10.5.0.0", "10.5.0.10")), 400, "OutOfBoundsAllocationPool",
                 "The allocation pool 10.5.0.0-10.5.0.10 spans beyond the subnet cidr "
                 "10.5.0.0/24.")
    expect_error(pools(("10.5.0.250", "10.5.1.9")), 400, "OutOfBoundsAllocationPool")
    expect_error(pools(("10.5.0.10", "10.5.0.20"), ("10.5.0.15", "10.5.0.30")), 409,
                 "OverlappingAllocationPools", "Found overlapping allocation pools: "
                 "10.5.0.10-10.5.0.20 10.5.0.15-10.5.0.30 for subnet 10.5.0.0/24.")
    expect_error(pools(("10.5.0.1", "10.5.0.10")), 409, "GatewayConflictWithAllocationPools",
                 "Gateway ip 10.5.0.1 conflicts with allocation pool 10.5.0.1-10.5.0.10.")
    expect_error(pools(("10.5.0.20", "10.5.0.10")), 400, "InvalidAllocationPool",
                 "The allocation pool {'start': '10.5.0.20', 'end': '10.5.0.10'} is not valid.")
    expect_error(pools(("2001:db8::1", "2001:db8::5")), 400, "InvalidAllocationPool",
                 "The allocation pool 2001:db8::1-2001:db8::5 is not valid.")
    # IPv6: the first (anycast) address is outside, the last inside
    v6 = post(api, net, "2001:db8:5::/120",
              allocation_pools=[{"start": "2001:db8:5::", "end": "2001:db8:5::10"}])
    expect_error(v6, 400, "OutOfBoundsAllocationPool")
    sub = api.subnet(net["id"], "2001:db8:5::/120", gateway_ip=None,
                     allocation_pools=[{"start": "2001:db8:5::f0", "end": "2001:db8:5::ff"}])
    assert sub["allocation_pools"] == [{"start": "2001:db8:5::f0", "end": "2001:db8:5::ff"}]


def test_ipv6_modes(api: Api, net: dict[str, Any]) -> None:
    both = api.subnet(net["id"], "2001:db8:6::/64", ipv6_ra_mode="slaac",
                      ipv6_address_mode="slaac")
    assert (both["ipv6_ra_mode"], both["ipv6_address_mode"]) == ("slaac", "slaac")
    alone = api.subnet(api.network()["id"], "2001:db8:7::/64",
                       ipv6_address_mode="dhcpv6-stateless")
    assert (alone["ipv6_ra_mode"], alone["ipv6_address_mode"]) == (None, "dhcpv6-stateless")
    stateful = api.subnet(api.network()["id"], "2001:db8:8::/80",
                          ipv6_ra_mode="dhcpv6-stateful")
    assert stateful["cidr"] == "2001:db8:8::/80"


def test_overlap_and_requests_neutron_refuses(api: Api, net: dict[str, Any]) -> None:
    api.subnet(net["id"], "10.6.0.0/16")
    expect_error(post(api, net, "10.6.1.0/24"), 400, "InvalidInput", invalid_input(
        f"Requested subnet with cidr: 10.6.1.0/24 for network: {net['id']} overlaps with "
        "another subnet"))
    api.subnet(api.network()["id"], "10.6.1.0/24")  # other networks may overlap
    expect_error(post(api, net, None), 400, "BadRequest",
                 "Bad subnets request: a subnetpool must be specified in the absence of a "
                 "cidr.")
    expect_error(post(api, net, "10.7.0.0/24", prefixlen=24), 400, "BadRequest",
                 "Bad subnets request: cidr and prefixlen must not be supplied together.")
    pool = str(uuid.uuid4())
    expect_error(post(api, net, "10.7.0.0/24", subnetpool_id=pool), 404, "SubnetPoolNotFound",
                 f"Subnet pool {pool} could not be found.")
    expect_error(api.post("subnets", {"cidr": "10.7.0.0/24", "ip_version": 4}), 400,
                 "HTTPBadRequest",
                 "Failed to parse request. Required attribute 'network_id' not specified")
    missing = str(uuid.uuid4())
    expect_error(api.post("subnets", {"network_id": missing, "cidr": "10.7.0.0/24",
                                      "ip_version": 4}),
                 404, "NetworkNotFound", f"Network {missing} could not be found.")


# --- updates -------------------------------------------------------------------------------
def test_update_gateway_and_pools(api: Api, net: dict[str, Any]) -> None:
    sub = api.subnet(net["id"], "10.8.0.0/24")
    # pools are not recomputed when only the gateway moves
    moved = api.update("subnets", sub["id"], gateway_ip="192.0.2.1")
    assert moved["gateway_ip"] == "192.0.2.1"
    assert moved["allocation_pools"] == sub["allocation_pools"]
    assert moved["revision_number"] == sub["revision_number"] + 1
    expect_error(api.put("subnets", sub["id"], {"gateway_ip": "10.8.0.50"}), 409,
                 "GatewayConflictWithAllocationPools",
                 "Gateway ip 10.8.0.50 conflicts with allocation pool 10.8.0.2-10.8.0.254.")
    expect_error(api.put("subnets", sub["id"], {"gateway_ip": "10.8.0.0"}), 400,
                 "InvalidInput", invalid_input("Gateway is not valid on subnet"))
    repooled = api.update("subnets", sub["id"], gateway_ip="10.8.0.1",
                          allocation_pools=[{"start": "10.8.0.100", "end": "10.8.0.110"},
                                            {"start": "10.8.0.10", "end": "10.8.0.20"}])
    assert sorted(p["start"] for p in repooled["allocation_pools"]) == ["10.8.0.10",
                                                                        "10.8.0.100"]
    expect_error(api.put("subnets", sub["id"],
                         {"allocation_pools": [{"start": "10.8.0.1", "end": "10.8.0.5"}]}),
                 409, "GatewayConflictWithAllocationPools")
    expect_error(api.put("subnets", sub["id"],
                         {"allocation_pools": [{"start": "10.8.0.200", "end": "10.8.1.5"}]}),
                 400, "OutOfBoundsAllocationPool")
    assert api.update("subnets", sub["id"], allocation_pools=[])["allocation_pools"] == []
    assert api.update("subnets", sub["id"], gateway_ip=None)["gateway_ip"] is None


def test_update_dns_routes_and_more(api: Api, net: dict[str, Any]) -> None:
    sub = api.subnet(net["id"], "10.9.0.0/24", dns_nameservers=["10.9.0.53"])
    rev = sub["revision_number"]
    up = api.update("subnets", sub["id"], dns_nameservers=["1.1.1.1", "8.8.8.8"],
                    host_routes=[{"destination": "0.0.0.0/0", "nexthop": "10.9.0.254"}],
                    name="renamed")
    assert up["dns_nameservers"] == ["1.1.1.1", "8.8.8.8"]  # order kept
    assert up["host_routes"] == [{"destination": "0.0.0.0/0", "nexthop": "10.9.0.254"}]
    assert up["revision_number"] == rev + 1
    # the same values again: no new revision
    same = api.update("subnets", sub["id"], dns_nameservers=["1.1.1.1", "8.8.8.8"],
                      name="renamed")
    assert same["revision_number"] == rev + 1
    cleared = api.update("subnets", sub["id"], dns_nameservers=None, host_routes=None)
    assert (cleared["dns_nameservers"], cleared["host_routes"]) == ([], [])
    expect_error(api.put("subnets", sub["id"],
                         {"dns_nameservers": [f"10.53.0.{i}" for i in range(6)]}),
                 400, "DNSNameServersExhausted", f"Unable to complete operation for "
                 f"{sub['id']}. The number of DNS nameservers exceeds the limit 5.")
    expect_error(api.put("subnets", sub["id"], {"dns_nameservers": ["2001::53"]}), 400,
                 "InvalidInput", invalid_input(
                     "dns_nameserver '2001::53' does not match the ip_version '4'"))
    for attr, value in (("cidr", "10.10.0.0/24"), ("ip_version", 6),
                        ("network_id", net["id"]), ("ipv6_ra_mode", "slaac")):
        expect_error(api.put("subnets", sub["id"], {attr: value}), 400, "HTTPBadRequest",
                     f"Cannot update read-only attribute {attr}")


def test_update_enable_dhcp(api: Api, net: dict[str, Any]) -> None:
    tiny = api.subnet(net["id"], "10.11.0.0/30", enable_dhcp=False)
    assert api.update("subnets", tiny["id"], enable_dhcp=True)["enable_dhcp"] is True
    pair = api.subnet(net["id"], "10.11.1.0/31", enable_dhcp=False, gateway_ip=None)
    expect_error(api.put("subnets", pair["id"], {"enable_dhcp": True}), 400, "InvalidInput",
                 invalid_input("Subnet has a prefix length that is incompatible with DHCP "
                               "service enabled"))
    slaac = api.subnet(net["id"], "2001:db8:11::/64", ipv6_ra_mode="slaac",
                       ipv6_address_mode="slaac")
    expect_error(api.put("subnets", slaac["id"], {"enable_dhcp": False}), 400, "InvalidInput",
                 invalid_input("Cannot disable enable_dhcp with ipv6 attributes set"))


# --- deletion ------------------------------------------------------------------------------
def test_delete_rules(api: Api, admin: Api, net: dict[str, Any]) -> None:
    v4 = api.subnet(net["id"], "10.12.0.0/24")
    slaac = api.subnet(net["id"], "2001:db8:12::/64", ipv6_ra_mode="slaac",
                       ipv6_address_mode="slaac")
    user = api.port(net["id"])
    assert {ip["subnet_id"] for ip in user["fixed_ips"]} == {v4["id"], slaac["id"]}
    dhcp = admin.port(net["id"], device_owner="network:dhcp")

    # a user's chosen address keeps the subnet in use; SLAAC addresses are withdrawn
    expect_error(api.delete("subnets", v4["id"]), 409, "SubnetInUse",
                 f"Unable to complete operation on subnet {v4['id']}: One or more ports have "
                 "an IP allocation from this subnet.")
    api.remove("subnets", slaac["id"])
    port = api.get("ports", user["id"])[1]["port"]
    assert [ip["subnet_id"] for ip in port["fixed_ips"]] == [v4["id"]]
    assert port["revision_number"] == user["revision_number"] + 1

    api.remove("ports", user["id"])
    # the DHCP port does not hold the subnet; it loses its address with it
    api.remove("subnets", v4["id"])
    assert admin.get("ports", dhcp["id"])[1]["port"]["fixed_ips"] == []
    expect_error(api.get("subnets", v4["id"]), 404, "SubnetNotFound",
                 f"Subnet {v4['id']} could not be found.")
    assert api.get("networks", net["id"])[1]["network"]["subnets"] == []


def test_router_interface_holds_slaac_subnet(api: Api, admin: Api, net: dict[str, Any]
                                             ) -> None:
    slaac = api.subnet(net["id"], "2001:db8:13::/64", ipv6_ra_mode="slaac",
                       ipv6_address_mode="slaac")
    leg = admin.port(net["id"], device_owner="network:router_interface",
                     fixed_ips=[{"subnet_id": slaac["id"], "ip_address": "2001:db8:13::"}])
    expect_error(api.delete("subnets", slaac["id"]), 409, "SubnetInUse")
    expect_error(api.put("subnets", slaac["id"], {"gateway_ip": "2001:db8:13::1"}), 409,
                 "GatewayIpInUse", f"Current gateway ip 2001:db8:13:: already in use by port "
                 f"{leg['id']}. Unable to update.")


def test_other_projects(server: Server, api: Api, admin: Api, net: dict[str, Any]) -> None:
    sub = api.subnet(net["id"], "10.14.0.0/24")
    other = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))
    missing = f"Subnet {sub['id']} could not be found."
    expect_error(other.get("subnets", sub["id"]), 404, "SubnetNotFound", missing)
    expect_error(other.put("subnets", sub["id"], {"name": "x"}), 404, "SubnetNotFound",
                 missing)
    expect_error(other.delete("subnets", sub["id"]), 404, "SubnetNotFound", missing)
    assert sub["id"] not in {s["id"] for s in other.list("subnets")}
    # shared: visible, usable for ports, not editable
    admin.update("networks", net["id"], shared=True)
    assert other.get("subnets", sub["id"])[0] == 200
    expect_error(other.put("subnets", sub["id"], {"name": "x"}), 403, "PolicyNotAuthorized",
                 "rule:update_subnet is disallowed by policy")
    expect_error(other.delete("subnets", sub["id"]), 403, "PolicyNotAuthorized",
                 "rule:delete_subnet is disallowed by policy")
    # the admin may put a subnet of any project on any network
    theirs = admin.subnet(net["id"], "10.15.0.0/24", project_id=other.headers["X-Project-Id"])
    assert theirs["project_id"] == other.headers["X-Project-Id"]
