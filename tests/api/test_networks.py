"""Networks over HTTP: defaults, updates, MTU, provider networks, policy and visibility,
against Neutron's observable behaviour (status codes, NeutronError types and messages)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from tests.support.neutron import Api, expect_error, invalid_input
from tests.support.server import Server, project_headers

# Small tenant VNI range (so that exhausting it is cheap) and VLAN ranges for providers.
SERVER_CONF = {
    "ml2": {"tenant_network_types": "vxlan"},
    "ml2_type_vxlan": {"vni_ranges": "100:109"},
    "ml2_type_vlan": {"network_vlan_ranges": "physnet1:10:20,physnet2"},
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PROVIDER_KEYS = {"provider:network_type", "provider:physical_network",
                 "provider:segmentation_id"}
NETWORK_KEYS = {"id", "name", "subnets", "admin_state_up", "status", "project_id",
                "tenant_id", "shared", "mtu", "description", "created_at", "updated_at",
                "revision_number", "tags", "port_security_enabled", "router:external",
                "ipv4_address_scope", "ipv6_address_scope", "availability_zone_hints",
                "availability_zones"}


@pytest.fixture(autouse=True)
def _cleanup(admin: Api) -> Iterator[None]:
    """Networks a test creates are deleted after it, so that the module's small segment
    ranges are not used up by earlier tests."""
    before = {n["id"] for n in admin.list("networks", "fields=id")}
    yield
    for net in admin.list("networks", "fields=id"):
        if net["id"] not in before:
            for port in admin.list("ports", f"network_id={net['id']}&fields=id"):
                admin.delete("ports", port["id"])
            admin.delete("networks", net["id"])


def physnet() -> str:
    return f"flat-{uuid.uuid4().hex[:8]}"


# --- defaults, update, delete --------------------------------------------------------------
def test_create_defaults(api: Api, admin: Api, project: str) -> None:
    net = api.network(name="net1")
    assert set(net) == NETWORK_KEYS  # a project never sees provider:* keys
    assert net["name"] == "net1"
    assert net["admin_state_up"] is True
    assert net["shared"] is False
    assert net["status"] == "ACTIVE"
    assert net["subnets"] == []
    assert net["description"] == ""
    assert net["mtu"] == 1450  # vxlan: 1500 - 20 (IPv4) - 30 (VXLAN)
    assert net["revision_number"] == 1
    assert net["project_id"] == net["tenant_id"] == project
    assert TIMESTAMP.match(net["created_at"]) and TIMESTAMP.match(net["updated_at"])
    assert api.get("networks", net["id"]) == (200, {"network": net})

    seen = admin.get("networks", net["id"])[1]["network"]
    assert seen["provider:network_type"] == "vxlan"
    assert seen["provider:physical_network"] is None
    assert 100 <= seen["provider:segmentation_id"] <= 109
    api.remove("networks", net["id"])


def test_update_and_revisions(api: Api) -> None:
    net = api.network(name="before")
    rev = net["revision_number"]
    updated = api.update("networks", net["id"], name="after", admin_state_up=False,
                         description="d")
    assert (updated["name"], updated["admin_state_up"], updated["description"]) == (
        "after", False, "d")
    assert updated["revision_number"] == rev + 1
    assert TIMESTAMP.match(updated["updated_at"])
    # an update that changes nothing is no new revision; {"network": {}} is a valid PUT
    assert api.update("networks", net["id"], name="after")["revision_number"] == rev + 1
    status, body = api.put("networks", net["id"], {})
    assert status == 200 and body["network"]["revision_number"] == rev + 1
    assert body["network"]["name"] == "after"
    api.remove("networks", net["id"])


def test_mtu(api: Api) -> None:
    expect_error(api.post("networks", {"mtu": 1451}), 400, "InvalidInput",
                 invalid_input("Requested MTU is too big, maximum is 1450"))
    expect_error(api.post("networks", {"mtu": -1}), 400, "HTTPBadRequest",
                 "Invalid input for mtu. Reason: '-1' should be non-negative.")
    expect_error(api.post("networks", {"mtu": "big"}), 400, "InvalidInput",
                 invalid_input("'big' is not an integer"))
    assert api.network(mtu=0)["mtu"] == 1450  # 0: the largest the segment carries
    net = api.network(mtu=1400)
    assert net["mtu"] == 1400
    expect_error(api.put("networks", net["id"], {"mtu": 9000}), 400, "InvalidInput",
                 invalid_input("Requested MTU is too big, maximum is 1450"))
    assert api.update("networks", net["id"], mtu=1300)["mtu"] == 1300
    assert api.update("networks", net["id"], mtu=0)["mtu"] == 1450

    # subnets need 68 (IPv4) or 1280 (IPv6) bytes
    api.subnet(net["id"], "10.1.0.0/24")
    expect_error(api.put("networks", net["id"], {"mtu": 60}), 409, "NetworkMTUSubnetConflict",
                 f"MTU of {net['id']} is not valid, subnet requires a minimum of 68")
    assert api.update("networks", net["id"], mtu=1000)["mtu"] == 1000
    expect_error(api.post("subnets", {"network_id": net["id"], "cidr": "2001:db8::/64",
                                      "ip_version": 6}),
                 409, "NetworkMTUSubnetConflict",
                 f"MTU of {net['id']} is not valid, subnet requires a minimum of 1280")
    api.update("networks", net["id"], mtu=1280)
    api.subnet(net["id"], "2001:db8::/64")
    expect_error(api.put("networks", net["id"], {"mtu": 1279}), 409,
                 "NetworkMTUSubnetConflict",
                 f"MTU of {net['id']} is not valid, subnet requires a minimum of 1280")


def test_delete(api: Api) -> None:
    net = api.network()
    assert api.delete("networks", net["id"]) == (204, None)
    message = f"Network {net['id']} could not be found."
    expect_error(api.get("networks", net["id"]), 404, "NetworkNotFound", message)
    expect_error(api.delete("networks", net["id"]), 404, "NetworkNotFound", message)
    expect_error(api.put("networks", net["id"], {"name": "x"}), 404, "NetworkNotFound",
                 message)


def test_delete_with_ports(api: Api, admin: Api) -> None:
    net = api.network()
    subnet = api.subnet(net["id"], "10.2.0.0/24")
    dhcp = admin.port(net["id"], device_owner="network:dhcp")
    p1 = api.port(net["id"])
    p2 = api.port(net["id"], fixed_ips=[])
    msg = expect_error(api.delete("networks", net["id"]), 409, "NetworkInUse")
    prefix = (f"Unable to complete operation on network {net['id']}. There are one or more "
              "ports still in use on the network, id for these ports is: ")
    assert msg.startswith(prefix) and msg.endswith(".")
    assert sorted(msg[len(prefix):-1].split(",")) == sorted([p1["id"], p2["id"]])
    api.remove("ports", p1["id"])
    api.remove("ports", p2["id"])
    # what remains belongs to the network (DHCP): deleted with it, subnets too
    api.remove("networks", net["id"])
    expect_error(admin.get("ports", dhcp["id"]), 404, "PortNotFound")
    expect_error(admin.get("subnets", subnet["id"]), 404, "SubnetNotFound")


# --- provider networks ----------------------------------------------------------------------
def test_provider_flat(admin: Api) -> None:
    phys = physnet()
    net = admin.network(**{"provider:network_type": "flat",
                           "provider:physical_network": phys})
    assert (net["provider:network_type"], net["provider:physical_network"],
            net["provider:segmentation_id"]) == ("flat", phys, None)
    assert net["mtu"] == 1500
    expect_error(admin.post("networks", {"provider:network_type": "flat",
                                         "provider:physical_network": phys}),
                 409, "FlatNetworkInUse",
                 f"Unable to create the flat network. Physical network {phys} is in use.")
    admin.remove("networks", net["id"])
    # the physical network is free again
    admin.network(**{"provider:network_type": "flat", "provider:physical_network": phys})


def test_provider_vlan(admin: Api) -> None:
    net = admin.network(**{"provider:network_type": "vlan",
                           "provider:physical_network": "physnet1",
                           "provider:segmentation_id": 15})
    assert (net["provider:network_type"], net["provider:physical_network"],
            net["provider:segmentation_id"], net["mtu"]) == ("vlan", "physnet1", 15, 1500)
    expect_error(admin.post("networks", {"provider:network_type": "vlan",
                                         "provider:physical_network": "physnet1",
                                         "provider:segmentation_id": "15"}),
                 409, "VlanIdInUse", "Unable to create the network. The VLAN 15 on physical "
                 "network physnet1 is in use.")
    # physical network only: a free tag of its range is chosen
    partial = admin.network(**{"provider:network_type": "vlan",
                               "provider:physical_network": "physnet1"})
    assert 10 <= partial["provider:segmentation_id"] <= 20
    assert partial["provider:segmentation_id"] != 15
    # a tag outside the configured range, or on a provider-only physnet, is the admin's
    outside = admin.network(**{"provider:network_type": "vlan",
                               "provider:physical_network": "physnet2",
                               "provider:segmentation_id": 3000})
    assert outside["provider:segmentation_id"] == 3000


def test_provider_tunnel_and_local(admin: Api) -> None:
    net = admin.network(**{"provider:network_type": "vxlan",
                           "provider:segmentation_id": 5000})
    assert (net["provider:network_type"], net["provider:physical_network"],
            net["provider:segmentation_id"], net["mtu"]) == ("vxlan", None, 5000, 1450)
    expect_error(admin.post("networks", {"provider:network_type": "vxlan",
                                         "provider:segmentation_id": 5000}),
                 409, "TunnelIdInUse",
                 "Unable to create the network. The tunnel ID 5000 is in use.")
    gre = admin.network(**{"provider:network_type": "gre", "provider:segmentation_id": 7})
    assert gre["mtu"] == 1458
    # local networks put no limit of their own: the deployment's MTU
    local = admin.network(**{"provider:network_type": "local"})
    assert (local["provider:network_type"], local["mtu"]) == ("local", 1500)


@pytest.mark.parametrize(("attrs", "reason"), [
    ({"provider:network_type": "flat"}, "physical_network required for flat provider network"),
    ({"provider:network_type": "flat", "provider:physical_network": "x",
      "provider:segmentation_id": 3}, "segmentation_id prohibited for flat provider network"),
    ({"provider:network_type": "vlan", "provider:physical_network": "nope"},
     "physical_network 'nope' unknown for VLAN provider network"),
    ({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
      "provider:segmentation_id": 4095}, "segmentation_id out of range (1 through 4094)"),
    ({"provider:network_type": "vlan", "provider:segmentation_id": 12},
     "segmentation_id requires physical_network for VLAN provider network"),
    ({"provider:network_type": "vxlan", "provider:physical_network": "physnet1"},
     "provider:physical_network specified for vxlan network"),
    ({"provider:network_type": "local", "provider:physical_network": "physnet1"},
     "physical_network prohibited for local provider network"),
    ({"provider:network_type": "bogus"}, "network_type value 'bogus' not supported"),
    ({"provider:physical_network": "physnet1"}, "network_type required"),
    ({"provider:network_type": "vlan", "provider:segmentation_id": "x"},
     "'x' is not an integer"),
])
def test_provider_invalid(admin: Api, attrs: dict[str, object], reason: str) -> None:
    expect_error(admin.post("networks", attrs), 400, "InvalidInput", invalid_input(reason))


def test_multi_provider_segments(admin: Api) -> None:
    segments = [
        {"provider:network_type": "vlan", "provider:physical_network": "physnet1",
         "provider:segmentation_id": 12},
        {"provider:network_type": "vxlan", "provider:segmentation_id": 5100},
    ]
    net = admin.network(segments=segments)
    assert net["segments"] == [
        {"provider:network_type": "vlan", "provider:physical_network": "physnet1",
         "provider:segmentation_id": 12},
        {"provider:network_type": "vxlan", "provider:physical_network": None,
         "provider:segmentation_id": 5100},
    ]
    assert not PROVIDER_KEYS & set(net)  # a multi-segment network shows `segments` only
    assert admin.get("networks", net["id"])[1]["network"]["segments"] == net["segments"]
    assert net["mtu"] == 1450  # the smallest of its segments
    expect_error(admin.put("networks", net["id"], {"provider:segmentation_id": 13}), 400,
                 "InvalidInput", invalid_input(
                     "Provider network attributes can be updated only in provider networks "
                     "with a single segment."))

    expect_error(admin.post("networks", {"segments": segments[:1],
                                         "provider:network_type": "vlan"}),
                 400, "SegmentsSetInConjunctionWithProviders",
                 "Segments and provider values cannot both be set.")
    dup = {"provider:network_type": "vxlan", "provider:segmentation_id": 5200}
    expect_error(admin.post("networks", {"segments": [dup, dict(dup)]}), 400,
                 "SegmentsContainDuplicateEntry", "Duplicate segment entry in request.")
    expect_error(admin.post("networks", {"segments": [{**dup, "foo": 1}]}), 400,
                 "HTTPBadRequest", "Unrecognized attribute(s) 'foo'")


def test_provider_update(admin: Api) -> None:
    vlan = admin.network(**{"provider:network_type": "vlan",
                            "provider:physical_network": "physnet1",
                            "provider:segmentation_id": 17})
    moved = admin.update("networks", vlan["id"], **{"provider:segmentation_id": 18})
    assert moved["provider:segmentation_id"] == 18
    assert moved["revision_number"] == vlan["revision_number"] + 1
    # 17 is free again, 18 is taken
    other = admin.network(**{"provider:network_type": "vlan",
                             "provider:physical_network": "physnet1",
                             "provider:segmentation_id": 17})
    expect_error(admin.put("networks", other["id"], {"provider:segmentation_id": 18}), 409,
                 "VlanIdInUse")
    expect_error(admin.put("networks", vlan["id"], {"provider:network_type": "flat"}), 400,
                 "InvalidInput", contains="Plugin does not support updating the following "
                 "provider network attributes: ")
    vxlan = admin.network()
    expect_error(admin.put("networks", vxlan["id"], {"provider:segmentation_id": 4242}), 400,
                 "InvalidInput", invalid_input("Only VLAN type networks can be updated."))
    # naming the current values changes nothing
    same = admin.update("networks", vlan["id"], **{"provider:network_type": "vlan",
                                                    "provider:physical_network": "physnet1"})
    assert same["revision_number"] == moved["revision_number"]


def test_no_network_available(admin: Api, api: Api) -> None:
    # take every VNI of the project range (100-109) as admin-chosen provider networks
    for vni in range(100, 110):
        admin.post("networks", {"provider:network_type": "vxlan",
                                "provider:segmentation_id": vni})
    expect_error(api.post("networks", {"name": "one too many"}), 503, "NoNetworkAvailable",
                 "Unable to create the network. No project network is available for "
                 "allocation.")


# --- policy and visibility -----------------------------------------------------------------
def test_project_cannot_use_admin_attributes(api: Api) -> None:
    expect_error(api.post("networks", {"provider:network_type": "vlan"}), 403,
                 "PolicyNotAuthorized",
                 "(rule:create_network and rule:create_network:provider:network_type) is "
                 "disallowed by policy")
    expect_error(api.post("networks", {"shared": True,
                                       "provider:physical_network": "physnet1"}),
                 403, "PolicyNotAuthorized",
                 "((rule:create_network and rule:create_network:shared) and "
                 "rule:create_network:provider:physical_network) is disallowed by policy")
    net = api.network(shared=False)  # the default value needs no right
    expect_error(api.put("networks", net["id"], {"shared": False}), 403,
                 "PolicyNotAuthorized",
                 "(rule:update_network and rule:update_network:shared) is disallowed by "
                 "policy")
    # invalid values are 400 before any policy check
    expect_error(api.post("networks", {"shared": "maybe"}), 400, "InvalidInput",
                 invalid_input("'maybe' cannot be converted to boolean"))


def test_other_projects_network_is_invisible(server: Server, api: Api) -> None:
    net = api.network(name="private")
    other = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))
    message = f"Network {net['id']} could not be found."
    expect_error(other.get("networks", net["id"]), 404, "NetworkNotFound", message)
    expect_error(other.put("networks", net["id"], {"name": "x"}), 404, "NetworkNotFound",
                 message)
    # an admin-only attribute does not betray its existence either
    expect_error(other.put("networks", net["id"], {"shared": True}), 404, "NetworkNotFound",
                 message)
    expect_error(other.delete("networks", net["id"]), 404, "NetworkNotFound", message)
    assert net["id"] not in {n["id"] for n in other.list("networks")}
    expect_error(other.post("ports", {"network_id": net["id"]}), 404, "NetworkNotFound",
                 message)
    # Neutron's ownership hook reads the network as the caller sees it before any rule
    expect_error(other.post("subnets", {"network_id": net["id"], "cidr": "10.3.0.0/24",
                                        "ip_version": 4}),
                 404, "NetworkNotFound", message)
    assert api.get("networks", net["id"])[0] == 200


def test_shared_network(server: Server, admin: Api, project: str) -> None:
    owner = Api(server, project_headers(project))
    net = owner.network(name="to-share")
    subnet = owner.subnet(net["id"], "10.4.0.0/24")
    shared = admin.update("networks", net["id"], shared=True)
    assert shared["shared"] is True
    other = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))
    assert other.get("networks", net["id"])[1]["network"]["shared"] is True
    assert net["id"] in {n["id"] for n in other.list("networks")}
    assert subnet["id"] in {s["id"] for s in other.list("subnets")}
    expect_error(other.put("networks", net["id"], {"name": "mine"}), 403,
                 "PolicyNotAuthorized", "rule:update_network is disallowed by policy")
    expect_error(other.delete("networks", net["id"]), 403, "PolicyNotAuthorized",
                 "rule:delete_network is disallowed by policy")
    expect_error(other.post("subnets", {"network_id": net["id"], "cidr": "10.5.0.0/24",
                                        "ip_version": 4}),
                 403, "PolicyNotAuthorized", "rule:create_subnet is disallowed by policy")
    # ... but may plug into it
    port = other.port(net["id"])
    assert port["fixed_ips"][0]["subnet_id"] == subnet["id"]
    # the network's owner sees ports on its network
    assert port["id"] in {p["id"] for p in owner.list("ports")}

    # no unsharing while another project uses it
    expect_error(admin.put("networks", net["id"], {"shared": False}), 409,
                 "InvalidSharedSetting", "Unable to reconfigure sharing settings for network "
                 "to-share. Multiple projects are using it.")
    other.remove("ports", port["id"])
    # the network's own ports ("network:*") do not count, whoever's they are
    dhcp = admin.port(net["id"], device_owner="network:dhcp",
                      project_id=other.headers["X-Project-Id"])
    unshared = admin.update("networks", net["id"], shared=False)
    assert unshared["shared"] is False
    expect_error(other.get("networks", net["id"]), 404, "NetworkNotFound")
    admin.remove("ports", dhcp["id"])
