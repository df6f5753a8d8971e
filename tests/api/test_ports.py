"""Ports over HTTP: MACs, automatic and requested fixed IPs (IPv4, IPv6 stateful and
SLAAC), their updates, and the errors Neutron gives for each way they go wrong."""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Any

import pytest

from tests.support.neutron import Api, expect_error, invalid_input
from tests.support.server import Server, project_headers

PORT_KEYS = {"id", "name", "network_id", "admin_state_up", "mac_address", "fixed_ips",
             "device_id", "device_owner", "project_id", "tenant_id", "status",
             "description", "created_at", "updated_at", "revision_number",
             "tags", "binding:vnic_type", "extra_dhcp_opts",
             "security_groups", "port_security_enabled", "allowed_address_pairs",
             "device_profile", "numa_affinity_policy"}  # port extension drivers
MAC = re.compile(r"^fa:16:3e(:[0-9a-f]{2}){3}$")


@pytest.fixture
def net(api: Api) -> dict[str, Any]:
    return api.network()


@pytest.fixture
def v4(api: Api, net: dict[str, Any]) -> dict[str, Any]:
    return api.subnet(net["id"], "10.0.0.0/24")


def ips(port: dict[str, Any]) -> dict[str, str]:
    """subnet_id -> address"""
    return {ip["subnet_id"]: ip["ip_address"] for ip in port["fixed_ips"]}


def test_defaults(api: Api, net: dict[str, Any], v4: dict[str, Any], project: str) -> None:
    port = api.port(net["id"], name="p")
    assert set(port) == PORT_KEYS
    assert MAC.match(port["mac_address"])
    assert (port["status"], port["admin_state_up"], port["device_id"],
            port["device_owner"]) == ("DOWN", True, "", "")
    assert (port["project_id"], port["tenant_id"], port["revision_number"]) == (
        project, project, 1)
    [fixed] = port["fixed_ips"]
    assert fixed["subnet_id"] == v4["id"]
    assert 2 <= int(ipaddress.ip_address(fixed["ip_address"])) & 0xFF <= 254
    assert api.get("ports", port["id"]) == (200, {"port": port})
    assert api.delete("ports", port["id"]) == (204, None)
    expect_error(api.get("ports", port["id"]), 404, "PortNotFound",
                 f"Port {port['id']} could not be found.")


def test_requested_fixed_ips(api: Api, net: dict[str, Any], v4: dict[str, Any]) -> None:
    second = api.subnet(net["id"], "10.1.0.0/24")
    by_subnet = api.port(net["id"], fixed_ips=[{"subnet_id": second["id"]}])
    assert list(ips(by_subnet)) == [second["id"]]
    assert ips(by_subnet)[second["id"]].startswith("10.1.0.")
    # an address by_subnet did not get (its was chosen at random)
    wanted = next(a for a in ("10.1.0.50", "10.1.0.51") if a != ips(by_subnet)[second["id"]])
    by_ip = api.port(net["id"], fixed_ips=[{"ip_address": wanted}])
    assert ips(by_ip) == {second["id"]: wanted}
    both = api.port(net["id"], fixed_ips=[{"subnet_id": v4["id"], "ip_address": "10.0.0.60"},
                                          {"subnet_id": second["id"]}])
    assert ips(both)[v4["id"]] == "10.0.0.60" and second["id"] in ips(both)
    # outside the pools but inside the subnet, even the gateway: allowed
    gw = api.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.1"}])
    assert ips(gw) == {v4["id"]: "10.0.0.1"}
    none = api.port(net["id"], fixed_ips=[])
    assert none["fixed_ips"] == []

    expect_error(api.post("ports", {"network_id": net["id"],
                                    "fixed_ips": [{"ip_address": wanted}]}),
                 409, "IpAddressAlreadyAllocated",
                 f"IP address {wanted} already allocated in subnet {second['id']}")
    for bad in ("10.9.9.9", "10.0.0.0", "10.0.0.255"):
        expect_error(api.post("ports", {"network_id": net["id"], "fixed_ips": [
            {"subnet_id": v4["id"], "ip_address": bad}]}), 400, "InvalidIpForSubnet",
            f"IP address {bad} is not a valid IP for the specified subnet.")
    expect_error(api.post("ports", {"network_id": net["id"],
                                    "fixed_ips": [{"ip_address": "10.9.9.9"}]}),
                 400, "InvalidIpForNetwork", "IP address 10.9.9.9 is not a valid IP for any of "
                 "the subnets on the specified network.")
    expect_error(api.post("ports", {"network_id": net["id"], "fixed_ips": [{}]}), 400,
                 "InvalidInput", invalid_input("IP allocation requires subnet_id or ip_address"))
    elsewhere = api.subnet(api.network()["id"], "10.2.0.0/24")
    expect_error(api.post("ports", {"network_id": net["id"],
                                    "fixed_ips": [{"subnet_id": elsewhere["id"]}]}),
                 400, "InvalidInput", invalid_input(
                     f"Failed to create port on network {net['id']}, because fixed_ips "
                     f"included invalid subnet {elsewhere['id']}"))
    missing = str(uuid.uuid4())
    expect_error(api.post("ports", {"network_id": net["id"],
                                    "fixed_ips": [{"subnet_id": missing}]}),
                 404, "SubnetNotFound", f"Subnet {missing} could not be found.")
    expect_error(api.post("ports", {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "10.0.0.7"}, {"ip_address": "10.0.0.7"}]}), 400, "HTTPBadRequest",
        "Invalid input for fixed_ips. Reason: Duplicate IP address '10.0.0.7'.")
    expect_error(api.post("ports", {"network_id": net["id"],
                                    "fixed_ips": [{"ip_address": "ten"}]}),
                 400, "HTTPBadRequest",
                 "Invalid input for fixed_ips. Reason: 'ten' is not a valid IP address.")
    expect_error(api.post("ports", {"network_id": net["id"], "fixed_ips": {"ip": 1}}), 400,
                 "HTTPBadRequest",
                 "Invalid input for fixed_ips. Reason: Invalid data format for fixed IP: "
                 "'{'ip': 1}'.")


def test_network_without_subnets(api: Api, net: dict[str, Any]) -> None:
    assert api.port(net["id"])["fixed_ips"] == []
    expect_error(api.post("ports", {"network_id": net["id"],
                                    "fixed_ips": [{"ip_address": "10.0.0.5"}]}),
                 400, "InvalidInput", invalid_input("IP allocation requires subnets for network"))
    missing = str(uuid.uuid4())
    expect_error(api.post("ports", {"network_id": missing}), 404, "NetworkNotFound",
                 f"Network {missing} could not be found.")


def test_exhaustion_and_lowest_address_for_dhcp(api: Api, admin: Api,
                                                net: dict[str, Any]) -> None:
    sub = api.subnet(net["id"], "10.3.0.0/24",
                     allocation_pools=[{"start": "10.3.0.10", "end": "10.3.0.12"}])
    # the network's DHCP (and distributed) ports take the lowest free address
    assert ips(admin.port(net["id"], device_owner="network:dhcp")) == {sub["id"]: "10.3.0.10"}
    assert ips(admin.port(net["id"], device_owner="network:dhcp")) == {sub["id"]: "10.3.0.11"}
    api.port(net["id"])
    expect_error(api.post("ports", {"network_id": net["id"]}), 409,
                 "IpAddressGenerationFailure",
                 f"No more IP addresses available on network {net['id']}.")
    # an address outside the pools can still be asked for
    assert ips(api.port(net["id"], fixed_ips=[{"ip_address": "10.3.0.99"}])) == {
        sub["id"]: "10.3.0.99"}
    empty = api.subnet(api.network()["id"], "10.4.0.0/24", allocation_pools=[])
    expect_error(api.post("ports", {"network_id": empty["network_id"]}), 409,
                 "IpAddressGenerationFailure")


def test_ipv6(api: Api, admin: Api, net: dict[str, Any], v4: dict[str, Any]) -> None:
    slaac = api.subnet(net["id"], "2001:db8::/64", ipv6_ra_mode="slaac",
                       ipv6_address_mode="slaac")
    stateful = api.subnet(net["id"], "2001:db8:1::/64", ipv6_address_mode="dhcpv6-stateful")
    port = api.port(net["id"], mac_address="fa:16:3e:12:34:56")
    got = ips(port)
    assert set(got) == {v4["id"], slaac["id"], stateful["id"]}  # dual stack, all families
    assert got[slaac["id"]] == "2001:db8::f816:3eff:fe12:3456"  # EUI-64 of the MAC
    assert ipaddress.ip_address(got[stateful["id"]]) in ipaddress.ip_network("2001:db8:1::/64")
    # SLAAC addresses come with every port, even one asking for specific addresses only
    only_v4 = api.port(net["id"], fixed_ips=[{"subnet_id": v4["id"]}])
    assert set(ips(only_v4)) == {v4["id"], slaac["id"]}
    expect_error(api.post("ports", {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": slaac["id"], "ip_address": "2001:db8::5"}]}),
        400, "AllocationOnAutoAddressSubnet",
        f"IPv6 address 2001:db8::5 cannot be directly assigned to a port on subnet "
        f"{slaac['id']} as the subnet is configured for automatic addresses")
    # a router leg chooses its address, and gets no automatic one
    leg = admin.port(net["id"], device_owner="network:router_interface",
                     fixed_ips=[{"subnet_id": slaac["id"], "ip_address": "2001:db8::1"}])
    assert ips(leg) == {slaac["id"]: "2001:db8::1"}
    # the network (anycast) address: only router ports and owner-less ones
    expect_error(api.post("ports", {"network_id": net["id"], "device_owner": "compute:nova",
                                    "fixed_ips": [{"subnet_id": stateful["id"],
                                                   "ip_address": "2001:db8:1::"}]}),
                 400, "InvalidIpForSubnet")
    # a SLAAC subnet added later reaches the ports already there
    late = api.subnet(net["id"], "2001:db8:2::/64", ipv6_ra_mode="dhcpv6-stateless",
                      ipv6_address_mode="dhcpv6-stateless")
    again = api.get("ports", port["id"])[1]["port"]
    assert ips(again)[late["id"]] == "2001:db8:2:0:f816:3eff:fe12:3456"
    assert again["revision_number"] == port["revision_number"] + 1
    assert late["id"] not in ips(api.get("ports", leg["id"])[1]["port"])


def test_mac_addresses(api: Api, admin: Api, net: dict[str, Any]) -> None:
    port = api.port(net["id"], mac_address="AA-BB-CC-00-11-22")
    assert port["mac_address"] == "aa:bb:cc:00:11:22"
    expect_error(api.post("ports", {"network_id": net["id"],
                                    "mac_address": "aa:bb:cc:00:11:22"}),
                 409, "MacAddressInUse", f"Unable to complete operation for network "
                 f"{net['id']}. The mac address aa:bb:cc:00:11:22 is in use.")
    api.port(api.network()["id"], mac_address="aa:bb:cc:00:11:22")  # another network: fine
    for bad in ("zz:bb:cc:00:11:22", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "aa:bb", 7):
        expect_error(api.post("ports", {"network_id": net["id"], "mac_address": bad}), 400,
                     "HTTPBadRequest",
                     f"Invalid input for mac_address. Reason: '{bad}' is not a valid MAC "
                     "address.")
    # multicast MACs are not refused for ports
    assert api.port(net["id"], mac_address="01:00:5e:00:00:01")["mac_address"] == \
        "01:00:5e:00:00:01"

    # changing a MAC is for admins, and not for the network's own ports
    expect_error(api.put("ports", port["id"], {"mac_address": "aa:bb:cc:00:11:33"}), 403,
                 "PolicyNotAuthorized", "(rule:update_port and rule:update_port:mac_address) "
                 "is disallowed by policy")
    assert admin.update("ports", port["id"], mac_address="aa:bb:cc:00:11:33")[
        "mac_address"] == "aa:bb:cc:00:11:33"
    other = api.port(net["id"])
    expect_error(admin.put("ports", other["id"], {"mac_address": "aa:bb:cc:00:11:33"}), 409,
                 "MacAddressInUse")
    dhcp = admin.port(net["id"], device_owner="network:dhcp")
    expect_error(admin.put("ports", dhcp["id"], {"mac_address": "aa:bb:cc:00:11:44"}), 409,
                 "UnsupportedPortDeviceOwner",
                 f"Operation mac address update is not supported for device_owner "
                 f"network:dhcp on port {dhcp['id']}.")


def test_mac_update_moves_slaac_address(api: Api, admin: Api, net: dict[str, Any],
                                        v4: dict[str, Any]) -> None:
    slaac = api.subnet(net["id"], "2001:db8:5::/64", ipv6_ra_mode="slaac",
                       ipv6_address_mode="slaac")
    port = api.port(net["id"], mac_address="fa:16:3e:00:00:01")
    before = ips(port)
    moved = admin.update("ports", port["id"], mac_address="fa:16:3e:00:00:02")
    after = ips(moved)
    assert after[v4["id"]] == before[v4["id"]]
    assert after[slaac["id"]] == "2001:db8:5:0:f816:3eff:fe00:2"
    assert moved["revision_number"] == port["revision_number"] + 1


def test_update_fixed_ips(api: Api, net: dict[str, Any], v4: dict[str, Any]) -> None:
    second = api.subnet(net["id"], "10.6.0.0/24")
    slaac = api.subnet(net["id"], "2001:db8:6::/64", ipv6_ra_mode="slaac",
                       ipv6_address_mode="slaac")
    port = api.port(net["id"], fixed_ips=[{"subnet_id": v4["id"], "ip_address": "10.0.0.20"}])
    assert ips(port)[v4["id"]] == "10.0.0.20" and slaac["id"] in ips(port)

    # a subnet named without an address keeps the address held there; new ones are added
    up = api.update("ports", port["id"], fixed_ips=[{"subnet_id": v4["id"]},
                                                    {"ip_address": "10.6.0.30"}])
    assert ips(up) == {v4["id"]: "10.0.0.20", second["id"]: "10.6.0.30",
                       slaac["id"]: ips(port)[slaac["id"]]}
    assert up["revision_number"] == port["revision_number"] + 1
    # the list replaces the old one: 10.0.0.20 is freed (SLAAC stays unless removed)
    up = api.update("ports", port["id"], fixed_ips=[{"ip_address": "10.6.0.30"},
                                                    {"ip_address": "10.0.0.21"}])
    assert ips(up) == {v4["id"]: "10.0.0.21", second["id"]: "10.6.0.30",
                       slaac["id"]: ips(port)[slaac["id"]]}
    taker = api.port(net["id"], fixed_ips=[{"ip_address": "10.0.0.20"}])
    assert ips(taker)[v4["id"]] == "10.0.0.20"
    expect_error(api.put("ports", port["id"], {"fixed_ips": [{"ip_address": "10.0.0.20"}]}),
                 409, "IpAddressAlreadyAllocated")
    expect_error(api.put("ports", port["id"], {"fixed_ips": [{"ip_address": "10.9.0.1"}]}),
                 400, "InvalidIpForNetwork")
    # nothing changed by the failures; naming the same addresses is no new revision
    same = api.update("ports", port["id"], fixed_ips=up["fixed_ips"])
    assert ips(same) == ips(up) and same["revision_number"] == up["revision_number"]
    # [] drops the chosen addresses, not the automatic one
    cleared = api.update("ports", port["id"], fixed_ips=[])
    assert ips(cleared) == {slaac["id"]: ips(port)[slaac["id"]]}


def test_updates_and_revisions(api: Api, net: dict[str, Any]) -> None:
    port = api.port(net["id"])
    up = api.update("ports", port["id"], name="x", admin_state_up=False, device_id="vm-1",
                    device_owner="compute:nova", description="d")
    assert (up["name"], up["admin_state_up"], up["device_id"], up["device_owner"],
            up["description"]) == ("x", False, "vm-1", "compute:nova", "d")
    assert up["revision_number"] == port["revision_number"] + 1
    assert api.update("ports", port["id"], name="x")["revision_number"] == up["revision_number"]
    for attr, value in (("network_id", net["id"]), ("id", port["id"]), ("status", "ACTIVE")):
        expect_error(api.put("ports", port["id"], {attr: value}), 400, "HTTPBadRequest",
                     f"Cannot update read-only attribute {attr}")


def test_dhcp_port_does_not_block_network_delete(api: Api, admin: Api,
                                                 net: dict[str, Any], v4: dict[str, Any]
                                                 ) -> None:
    dhcp = admin.port(net["id"], device_owner="network:dhcp")
    fip_gw = admin.port(net["id"], device_owner="network:floatingip_agent_gateway")
    user = api.port(net["id"])
    msg = expect_error(api.delete("networks", net["id"]), 409, "NetworkInUse")
    assert msg.endswith(f"id for these ports is: {user['id']}.")
    api.remove("ports", user["id"])
    api.remove("networks", net["id"])
    for port in (dhcp, fip_gw):
        expect_error(admin.get("ports", port["id"]), 404, "PortNotFound")


def test_ports_of_other_projects(server: Server, api: Api, admin: Api,
                                 net: dict[str, Any], v4: dict[str, Any]) -> None:
    mine = api.port(net["id"])
    other = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))
    missing = f"Port {mine['id']} could not be found."
    expect_error(other.get("ports", mine["id"]), 404, "PortNotFound", missing)
    expect_error(other.put("ports", mine["id"], {"name": "x"}), 404, "PortNotFound", missing)
    expect_error(other.delete("ports", mine["id"]), 404, "PortNotFound", missing)
    admin.update("networks", net["id"], shared=True)
    theirs = other.port(net["id"], fixed_ips=[{"subnet_id": v4["id"]}])
    # a guest of a shared network chooses no MAC, no address, no "network:*" role
    guest = {"network_id": net["id"]}
    expect_error(other.post("ports", {**guest, "mac_address": "fa:16:3e:01:02:03"}), 403,
                 "PolicyNotAuthorized",
                 "(rule:create_port and rule:create_port:mac_address) is disallowed by policy")
    expect_error(other.post("ports", {**guest, "fixed_ips": [{"ip_address": "10.0.0.77"}]}),
                 403, "PolicyNotAuthorized",
                 "(rule:create_port and (rule:create_port:fixed_ips and "
                 "(rule:create_port:fixed_ips:ip_address))) is disallowed by policy")
    expect_error(other.post("ports", {**guest, "device_owner": "network:dhcp"}), 403,
                 "PolicyNotAuthorized",
                 "(rule:create_port and rule:create_port:device_owner) is disallowed by policy")
    expect_error(other.put("ports", theirs["id"], {"fixed_ips": [{"ip_address": "10.0.0.78"}]}),
                 403, "PolicyNotAuthorized", contains="rule:update_port:fixed_ips:ip_address")
    assert other.port(net["id"], device_owner="compute:nova")["device_owner"] == "compute:nova"
    # the network's owner sees and may delete ports on its network; the port's owner
    # does not see the others'
    assert {mine["id"], theirs["id"]} <= {p["id"] for p in api.list("ports")}
    assert mine["id"] not in {p["id"] for p in other.list("ports")}
    api.remove("ports", theirs["id"])
