"""Real Neutron clients, unchanged, against a real server on every database backend.

openstacksdk talks to neutrino with no Keystone at all::

    openstack.connection.Connection(auth_type="none",
                                    network_endpoint_override="http://HOST:9696/")

(sdk appends ``v2.0/`` itself). The caller is the noauth operator (admin) unless the
session carries noauth identity headers, which keystoneauth sends on every request::

    conn.session.additional_headers.update({"X-Project-Id": ..., "X-Roles": ...})

The ``openstack`` CLI uses the same two settings from a ``clouds.yaml``
(``auth_type: none`` + ``network_endpoint_override``), or on the command line
``--os-auth-type none --os-endpoint http://HOST:9696/``. It cannot send identity headers,
so it always acts as the operator.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from typing import Any

import openstack
import pytest
from openstack import exceptions as sdk_exc

from tests.support.osc import Osc, as_json
from tests.support.server import Server

# openstacksdk's own deprecation notices about its internals
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")



def _connect(server: Server, headers: dict[str, str] | None = None
             ) -> openstack.connection.Connection:
    conn = openstack.connection.Connection(
        auth_type="none", network_endpoint_override=f"{server.url}/",
    )
    if headers:
        conn.session.additional_headers.update(headers)
    return conn


@pytest.fixture
def sdk(server: Server, headers: dict[str, str]) -> Iterator[openstack.connection.Connection]:
    conn = _connect(server, headers)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def admin_sdk(server: Server) -> Iterator[openstack.connection.Connection]:
    conn = _connect(server)  # no identity headers: the noauth operator
    try:
        yield conn
    finally:
        conn.close()


def _count_requests(conn: openstack.connection.Connection) -> list[str]:
    """Record the URL of every request the connection sends."""
    seen: list[str] = []
    request = conn.session.request

    def counting(url: str, method: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(f"{method} {url}")
        return request(url, method, *args, **kwargs)

    conn.session.request = counting  # type: ignore[method-assign]
    return seen


def _eui64(cidr: str, mac: str) -> str:
    octets = [int(o, 16) for o in mac.split(":")]
    octets[0] ^= 0x02
    iid = bytes([*octets[:3], 0xFF, 0xFE, *octets[3:]])
    net = ipaddress.IPv6Network(cidr)
    return str(net.network_address + int.from_bytes(iid, "big"))


# --- openstacksdk ---------------------------------------------------------------------------

def test_sdk_network_subnet_port_lifecycle(
        sdk: openstack.connection.Connection, project: str) -> None:
    name = f"net-{uuid.uuid4().hex[:8]}"
    net = sdk.network.create_network(name=name, description="made by sdk")
    assert net.project_id == project and net.status == "ACTIVE"
    assert net.mtu == 1450  # vxlan over the default 1500 physnet MTU
    assert net.is_admin_state_up is True and net.is_shared is False
    assert sdk.network.find_network(name, ignore_missing=False).id == net.id
    assert sdk.network.find_network(net.id, ignore_missing=False).id == net.id
    assert sdk.network.get_network(net.id).description == "made by sdk"
    revision = net.revision_number
    net = sdk.network.update_network(net, name=name + "-x", mtu=1400)
    assert (net.name, net.mtu, net.revision_number) == (name + "-x", 1400, revision + 1)

    v4 = sdk.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.20.0.0/24",
                                   name="v4")
    assert v4.gateway_ip == "10.20.0.1"
    assert v4.allocation_pools == [{"start": "10.20.0.2", "end": "10.20.0.254"}]
    assert v4.is_dhcp_enabled is True
    v6 = sdk.network.create_subnet(network_id=net.id, ip_version=6, cidr="2001:db8:20::/64",
                                   ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    assert (v6.ipv6_ra_mode, v6.ipv6_address_mode) == ("slaac", "slaac")
    assert sorted(sdk.network.get_network(net.id).subnet_ids) == sorted([v4.id, v6.id])

    # automatic addresses: one from the v4 pool, the EUI-64 address of the SLAAC subnet
    auto = sdk.network.create_port(network_id=net.id, name="auto")
    ips = {f["subnet_id"]: f["ip_address"] for f in auto.fixed_ips}
    assert set(ips) == {v4.id, v6.id}
    assert ipaddress.ip_address(ips[v4.id]) in ipaddress.ip_network("10.20.0.0/24")
    assert ips[v6.id] == _eui64("2001:db8:20::/64", auto.mac_address)

    by_subnet = sdk.network.create_port(network_id=net.id, fixed_ips=[{"subnet_id": v4.id}])
    v4_ips = [f["ip_address"] for f in by_subnet.fixed_ips if f["subnet_id"] == v4.id]
    assert len(v4_ips) == 1 and v4_ips[0] != ips[v4.id]
    # two addresses the two above did not get (theirs were chosen at random)
    free, other = [a for a in (f"10.20.0.{n}" for n in range(77, 100)) if a not in
                   (ips[v4.id], v4_ips[0])][:2]
    by_ip = sdk.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": free}])
    assert {"subnet_id": v4.id, "ip_address": free} in by_ip.fixed_ips

    port = sdk.network.update_port(by_ip, name="renamed", admin_state_up=False)
    assert port.name == "renamed" and port.is_admin_state_up is False
    assert sdk.network.get_port(by_ip.id).name == "renamed"
    port = sdk.network.update_port(port, fixed_ips=[{"subnet_id": v4.id,
                                                      "ip_address": other}])
    assert [f["ip_address"] for f in port.fixed_ips if f["subnet_id"] == v4.id] == [other]

    for p in (auto, by_subnet, by_ip):
        assert sdk.network.delete_port(p) is None
    with pytest.raises(sdk_exc.NotFoundException):
        sdk.network.find_port(auto.id, ignore_missing=False)
    sdk.network.delete_subnet(v6)
    sdk.network.delete_subnet(v4.id)
    sdk.network.delete_network(net)
    with pytest.raises(sdk_exc.NotFoundException):
        sdk.network.find_network(name + "-x", ignore_missing=False)
    # already gone: ignore_missing (the default) swallows the 404, otherwise it is raised
    sdk.network.delete_network(net.id)
    with pytest.raises(sdk_exc.NotFoundException):
        sdk.network.delete_network(net.id, ignore_missing=False)


def test_sdk_filters_and_pagination(sdk: openstack.connection.Connection,
                                    server: Server, headers: dict[str, str]) -> None:
    net = sdk.network.create_network(name="paged")
    other = sdk.network.create_network(name="other")
    subnet = sdk.network.create_subnet(network_id=net.id, ip_version=4,
                                       cidr="10.21.0.0/24")
    sdk.network.create_subnet(network_id=other.id, ip_version=4, cidr="10.22.0.0/24")
    sdk.network.create_port(network_id=other.id, name="elsewhere")

    # bulk create: one POST with a list, answered in order
    created = list(sdk.network.create_ports(
        [{"network_id": net.id, "name": f"p{i:02d}"} for i in range(7)]))
    assert [p.name for p in created] == [f"p{i:02d}" for i in range(7)]
    ids = {p.id for p in created}
    assert len(ids) == 7

    assert {p.id for p in sdk.network.ports(network_id=net.id)} == ids
    one = created[3]
    ip = one.fixed_ips[0]["ip_address"]
    assert [p.id for p in sdk.network.ports(fixed_ips=[f"ip_address={ip}"])] == [one.id]
    assert {p.id for p in sdk.network.ports(fixed_ips=[f"subnet_id={subnet.id}"])} == ids
    assert [p.id for p in sdk.network.ports(name="p05")] == [created[5].id]

    # the server pages: limit gives a page plus a "next" link to the rest
    status, body = server.request("GET", f"/v2.0/ports?network_id={net.id}&limit=3",
                                  headers=headers)
    assert status == 200 and len(body["ports"]) == 3
    assert any(link["rel"] == "next" for link in body["ports_links"])

    # sdk follows the links page by page until the collection is exhausted
    seen = _count_requests(sdk)
    walked = list(sdk.network.ports(network_id=net.id, limit=3))
    assert sorted(p.id for p in walked) == sorted(ids)
    assert len(walked) == 7
    assert len([r for r in seen if "/ports" in r]) >= 3, seen

    desc = [p.name for p in sdk.network.ports(network_id=net.id, limit=2,
                                              sort_key="name", sort_dir="desc")]
    assert desc == [f"p{i:02d}" for i in reversed(range(7))]


def test_sdk_bulk_create_is_all_or_nothing(sdk: openstack.connection.Connection) -> None:
    net = sdk.network.create_network(name="bulk")
    sdk.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.23.0.0/24")
    with pytest.raises(sdk_exc.BadRequestException) as e:
        list(sdk.network.create_ports([
            {"network_id": net.id, "name": "good"},
            {"network_id": net.id, "name": "bad", "fixed_ips": [{"ip_address": "10.99.0.5"}]},
        ]))
    assert e.value.status_code == 400
    assert "10.99.0.5" in str(e.value.details)
    assert list(sdk.network.ports(network_id=net.id)) == []


def test_sdk_errors(sdk: openstack.connection.Connection) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(sdk_exc.NotFoundException) as nf:
        sdk.network.get_network(missing)
    assert nf.value.status_code == 404
    assert nf.value.details == f"Network {missing} could not be found."
    with pytest.raises(sdk_exc.NotFoundException):
        sdk.network.find_network("no-such-network", ignore_missing=False)

    net = sdk.network.create_network(name="errors")
    subnet = sdk.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.24.0.0/24")
    port = sdk.network.create_port(network_id=net.id,
                                   fixed_ips=[{"ip_address": "10.24.0.10"}])

    with pytest.raises(sdk_exc.ConflictException) as c:
        sdk.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": "10.24.0.10"}])
    assert c.value.status_code == 409
    assert c.value.details == \
        f"IP address 10.24.0.10 already allocated in subnet {subnet.id}"
    with pytest.raises(sdk_exc.ConflictException) as c:
        sdk.network.create_port(network_id=net.id, mac_address=port.mac_address)
    assert f"The mac address {port.mac_address} is in use." in c.value.details
    with pytest.raises(sdk_exc.ConflictException) as c:
        sdk.network.delete_network(net)
    assert "There are one or more ports still in use on the network" in c.value.details
    with pytest.raises(sdk_exc.ConflictException) as c:
        sdk.network.delete_subnet(subnet)
    assert c.value.details == (f"Unable to complete operation on subnet {subnet.id}: One or "
                               "more ports have an IP allocation from this subnet.")

    with pytest.raises(sdk_exc.BadRequestException) as b:
        sdk.network.update_network(net, mtu=9000)
    assert b.value.status_code == 400
    assert b.value.details == \
        "Invalid input for operation: Requested MTU is too big, maximum is 1450."
    with pytest.raises(sdk_exc.BadRequestException):
        sdk.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.25.0.0/33")
    with pytest.raises(sdk_exc.BadRequestException) as b:
        sdk.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": "10.99.0.1"}])
    assert "10.99.0.1" in b.value.details

    # a project may not choose a segment
    with pytest.raises(sdk_exc.ForbiddenException) as f:
        sdk.network.create_network(provider_network_type="flat",
                                   provider_physical_network="physnet1")
    assert f.value.status_code == 403


def test_sdk_provider_network_as_admin(admin_sdk: openstack.connection.Connection,
                                       sdk: openstack.connection.Connection,
                                       project: str) -> None:
    physnet = f"phys-{uuid.uuid4().hex[:8]}"
    net = admin_sdk.network.create_network(
        name="provider", project_id=project, provider_network_type="flat",
        provider_physical_network=physnet)
    assert (net.provider_network_type, net.provider_physical_network,
            net.provider_segmentation_id) == ("flat", physnet, None)
    assert net.project_id == project and net.mtu == 1500
    # the owner sees the network, but provider details are for admins only
    seen = sdk.network.get_network(net.id)
    assert seen.project_id == project and seen.provider_network_type is None
    with pytest.raises(sdk_exc.ConflictException):
        admin_sdk.network.create_network(project_id=project, provider_network_type="flat",
                                         provider_physical_network=physnet)
    vx = admin_sdk.network.create_network(project_id=project, provider_network_type="vxlan",
                                          provider_segmentation_id=123456)
    assert (vx.provider_network_type, vx.provider_segmentation_id) == ("vxlan", 123456)
    assert {n.id for n in admin_sdk.network.networks(provider_physical_network=physnet)} \
        == {net.id}
    # the operator creates in its own project when it does not name one
    own = admin_sdk.network.create_network(name="operator's")
    assert own.project_id == "admin"
    for n in (net, vx, own):
        admin_sdk.network.delete_network(n)


# --- the openstack CLI ----------------------------------------------------------------------

def test_openstack_cli(osc: Osc,
                       server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    net = as_json(osc("network", "create", f"net-{tag}", "-f", "json"))
    assert net["project_id"] == "admin" and net["mtu"] == 1450
    assert net["provider:network_type"] == "vxlan"
    listed = as_json(osc("network", "list", "-f", "json"))
    assert {"ID": net["id"], "Name": f"net-{tag}", "Subnets": []} in listed

    s4 = as_json(osc("subnet", "create", "--network", f"net-{tag}", "--subnet-range",
                   "10.30.0.0/24", f"v4-{tag}", "-f", "json"))
    assert s4["gateway_ip"] == "10.30.0.1" and s4["network_id"] == net["id"]
    s6 = as_json(osc("subnet", "create", "--network", net["id"], "--ip-version", "6",
                   "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac",
                   "--subnet-range", "2001:db8:30::/64", f"v6-{tag}", "-f", "json"))
    assert (s6["ip_version"], s6["ipv6_address_mode"]) == (6, "slaac")

    port = as_json(osc("port", "create", "--network", f"net-{tag}", "--fixed-ip",
                     f"subnet=v4-{tag},ip-address=10.30.0.10", f"port-{tag}", "-f", "json"))
    assert {"subnet_id": s4["id"], "ip_address": "10.30.0.10"} in port["fixed_ips"]
    ports = as_json(osc("port", "list", "--network", f"net-{tag}", "-f", "json"))
    assert [p["ID"] for p in ports] == [port["id"]]
    assert {"subnet_id": s4["id"], "ip_address": "10.30.0.10"} in \
        ports[0]["Fixed IP Addresses"]

    osc("port", "set", "--name", f"renamed-{tag}", port["id"])
    assert server.request("GET", f"/v2.0/ports/{port['id']}")[1]["port"]["name"] == \
        f"renamed-{tag}"

    # refusals: non-zero exit, Neutron's message on stderr
    err = osc("network", "set", "--mtu", "9000", f"net-{tag}", ok=False).stderr
    assert "Requested MTU is too big, maximum is 1450." in err
    err = osc("subnet", "delete", f"v4-{tag}", ok=False).stderr
    assert "One or more ports have an IP allocation from this subnet" in err
    assert "ConflictException: 409" in err

    osc("port", "delete", f"renamed-{tag}")
    osc("subnet", "delete", f"v4-{tag}", f"v6-{tag}")
    osc("network", "delete", f"net-{tag}")
    assert server.request("GET", f"/v2.0/networks/{net['id']}")[0] == 404

    flat = as_json(osc("network", "create", "--provider-network-type", "flat",
                     "--provider-physical-network", f"physnet-{tag}", f"flat-{tag}",
                     "-f", "json"))
    assert (flat["provider:network_type"], flat["provider:physical_network"]) == \
        ("flat", f"physnet-{tag}")
    assert flat["mtu"] == 1500
    server.request("DELETE", f"/v2.0/networks/{flat['id']}")

    # no clouds.yaml needed: the endpoint on the command line
    ext = as_json(osc("--os-auth-type", "none", "--os-endpoint", f"{server.url}/",
                    "extension", "list", "--network", "-f", "json", cloud=False))
    aliases = {e["Alias"] for e in ext}
    _, body = server.request("GET", "/v2.0/extensions")
    assert aliases == {e["alias"] for e in body["extensions"]}
    assert {"provider", "net-mtu-writable", "pagination", "sorting"} <= aliases
