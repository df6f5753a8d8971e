"""Ports' security_groups, port_security_enabled (ports and networks) and
allowed_address_pairs over HTTP and through the openstack CLI, on every backend."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.neutron import expect_error
from tests.support.osc import as_json as _json
from tests.support.secgroups import SgApi as Api
from tests.support.server import Server, project_headers


@pytest.fixture
def api_class() -> type[Api]:
    return Api  # SgApi: api and admin (tests/api/conftest.py) are SgApis


@pytest.fixture
def net(api: Api) -> dict[str, Any]:
    network = api.network(name="n")
    api.subnet(network["id"], "10.40.0.0/24")
    return network


def _default_id(api: Api) -> str:
    return next(g["id"] for g in api.list("security-groups") if g["name"] == "default")


def test_defaults(api: Api, net: dict[str, Any]) -> None:
    assert net["port_security_enabled"] is True
    port = api.port(net["id"])
    assert port["security_groups"] == [_default_id(api)]
    assert port["port_security_enabled"] is True
    assert port["allowed_address_pairs"] == []
    assert api.show("ports", port["id"])["security_groups"] == port["security_groups"]


def test_network_ports_get_no_groups(api: Api, admin: Api, net: dict[str, Any]) -> None:
    group = api.create("security-groups", name="g")
    for owner in ("network:dhcp", "network:router_interface"):
        port = admin.port(net["id"], device_owner=owner, project_id=net["project_id"])
        assert port["security_groups"] == [] and port["port_security_enabled"] is True
        # groups asked for are ignored, as Neutron does for trusted ports
        port = admin.port(net["id"], device_owner=owner, project_id=net["project_id"],
                          security_groups=[group["id"]])
        assert port["security_groups"] == []


def test_explicit_groups(api: Api, net: dict[str, Any], server: Server) -> None:
    a = api.create("security-groups", name="a")
    b = api.create("security-groups", name="b")
    # a group twice is refused, as Neutron's type:uuid_list (test_conformance_fixes.py)
    status, body = api.post("ports", {"network_id": net["id"],
                                      "security_groups": [b["id"], a["id"], a["id"]]})
    assert status == 400 and "Duplicate items in the list" in str(body), body
    port = api.port(net["id"], security_groups=[b["id"], a["id"]])
    assert port["security_groups"] == sorted([a["id"], b["id"]])
    assert [p["id"] for p in api.list("ports", f"security_groups={a['id']}")] == [port["id"]]
    # an update replaces the list; null and [] mean none
    updated = api.update("ports", port["id"], security_groups=[b["id"]])
    assert updated["security_groups"] == [b["id"]]
    assert updated["revision_number"] == port["revision_number"] + 1
    assert api.update("ports", port["id"], security_groups=None)["security_groups"] == []
    assert api.port(net["id"], security_groups=[])["security_groups"] == []
    assert api.port(net["id"], security_groups=None)["security_groups"] == []

    missing = str(uuid.uuid4())
    expect_error(api.post("ports", {"network_id": net["id"], "security_groups": [missing]}),
                 404, "SecurityGroupNotFound", f"Security group {missing} does not exist")
    expect_error(api.put("ports", port["id"], {"security_groups": [a["id"], missing]}), 404,
                 "SecurityGroupNotFound")
    theirs = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}")).create(
        "security-groups", name="theirs")
    expect_error(api.post("ports", {"network_id": net["id"],
                                    "security_groups": [theirs["id"]]}),
                 404, "SecurityGroupNotFound")
    expect_error(api.post("ports", {"network_id": net["id"], "security_groups": ["x"]}),
                 400, "HTTPBadRequest")
    expect_error(api.post("ports", {"network_id": net["id"], "security_groups": "x"}),
                 400, "HTTPBadRequest")
    # nothing half-written: no port was made by the refused creates
    assert len(api.list("ports", f"network_id={net['id']}")) == 3


def test_stateful_and_stateless_do_not_mix(api: Api, net: dict[str, Any]) -> None:
    a = api.create("security-groups", name="a")
    b = api.create("security-groups", name="b", stateful=False)
    expect_error(api.post("ports", {"network_id": net["id"],
                                    "security_groups": [a["id"], b["id"]]}),
                 409, "SecurityGroupConflict")


def test_port_security(api: Api, net: dict[str, Any]) -> None:
    group = api.create("security-groups", name="g")
    port = api.port(net["id"], port_security_enabled=False)
    assert (port["port_security_enabled"], port["security_groups"]) == (False, [])
    assert [p["id"] for p in api.list("ports", "port_security_enabled=false")] == [port["id"]]
    expect_error(api.post("ports", {"network_id": net["id"], "port_security_enabled": False,
                                    "security_groups": [group["id"]]}),
                 400, "PortSecurityAndIPRequiredForSecurityGroups",
                 "Port security must be enabled and port must have an IP address in order "
                 "to use security groups.")
    secured = api.port(net["id"])
    expect_error(api.put("ports", secured["id"], {"port_security_enabled": False}), 409,
                 "PortSecurityPortHasSecurityGroup",
                 "Port has security group associated. Cannot disable port security or IP "
                 "address until security group is removed.")
    expect_error(api.put("ports", port["id"], {"security_groups": [group["id"]]}), 400,
                 "PortSecurityAndIPRequiredForSecurityGroups")
    off = api.update("ports", secured["id"], port_security_enabled=False, security_groups=[])
    assert (off["port_security_enabled"], off["security_groups"]) == (False, [])
    on = api.update("ports", secured["id"], port_security_enabled=True)
    assert (on["port_security_enabled"], on["security_groups"]) == (True, [])
    assert api.update("ports", secured["id"], security_groups=[group["id"]])[
        "security_groups"] == [group["id"]]


def test_network_port_security(api: Api) -> None:
    net = api.network(name="off", port_security_enabled=False)
    assert net["port_security_enabled"] is False
    assert [n["id"] for n in api.list("networks", "port_security_enabled=false")] == [
        net["id"]]
    port = api.port(net["id"])
    assert (port["port_security_enabled"], port["security_groups"]) == (False, [])
    # explicitly enabled on the port: the default group
    port = api.port(net["id"], port_security_enabled=True)
    assert port["port_security_enabled"] is True and len(port["security_groups"]) == 1
    updated = api.update("networks", net["id"], port_security_enabled=True)
    assert updated["port_security_enabled"] is True
    assert updated["revision_number"] == net["revision_number"] + 1
    assert api.port(net["id"])["port_security_enabled"] is True
    expect_error(api.post("networks", {"port_security_enabled": "sure"}), 400, "InvalidInput")


def test_allowed_address_pairs(api: Api, net: dict[str, Any]) -> None:
    port = api.port(net["id"], allowed_address_pairs=[
        {"ip_address": "10.40.0.0/28"}, {"ip_address": "10.50.0.7", "mac_address":
                                         "FA:16:3E:00:00:01"}])
    assert port["allowed_address_pairs"] == [
        {"ip_address": "10.40.0.0/28", "mac_address": port["mac_address"]},
        {"ip_address": "10.50.0.7", "mac_address": "fa:16:3e:00:00:01"}]
    assert api.show("ports", port["id"])["allowed_address_pairs"] == \
        port["allowed_address_pairs"]
    updated = api.update("ports", port["id"], allowed_address_pairs=[
        {"ip_address": "2001:db8::1"}])
    assert updated["allowed_address_pairs"] == [
        {"ip_address": "2001:db8::1", "mac_address": port["mac_address"]}]
    assert api.update("ports", port["id"], allowed_address_pairs=None)[
        "allowed_address_pairs"] == []

    def bad(pairs: Any) -> tuple[int, Any]:
        return api.post("ports", {"network_id": net["id"], "allowed_address_pairs": pairs})

    expect_error(bad([{"mac_address": "fa:16:3e:00:00:01"}]), 400,
                 "AllowedAddressPairsMissingIP", "AllowedAddressPair must contain ip_address")
    expect_error(bad([{"ip_address": "10.0.0.1"}, {"ip_address": "10.0.0.1"}]), 400,
                 "DuplicateAddressPairInRequest")
    expect_error(bad([{"ip_address": "10.0.0.1", "color": "red"}]), 400, "HTTPBadRequest")
    expect_error(bad([{"ip_address": "nonsense"}]), 400, "HTTPBadRequest")
    expect_error(bad([{"ip_address": "10.0.0.1", "mac_address": "zz"}]), 400,
                 "HTTPBadRequest")
    expect_error(bad([{"ip_address": f"10.0.1.{i}"} for i in range(11)]), 400,
                 "AllowedAddressPairExhausted",
                 "The number of allowed address pair exceeds the maximum 10.")
    expect_error(api.post("ports", {"network_id": net["id"], "port_security_enabled": False,
                                    "allowed_address_pairs": [{"ip_address": "10.0.0.1"}]}),
                 409, "AddressPairAndPortSecurityRequired",
                 "Port Security must be enabled in order to have allowed address pairs on a "
                 "port.")
    paired = api.port(net["id"], security_groups=[],
                      allowed_address_pairs=[{"ip_address": "10.0.0.1"}])
    expect_error(api.put("ports", paired["id"], {"port_security_enabled": False}), 409,
                 "AddressPairAndPortSecurityRequired")
    off = api.update("ports", paired["id"], port_security_enabled=False,
                     allowed_address_pairs=[])
    assert (off["port_security_enabled"], off["allowed_address_pairs"]) == (False, [])


def test_guest_on_shared_network_needs_owner_for_port_security(
        api: Api, admin: Api, server: Server) -> None:
    shared = admin.network(name="shared", shared=True)
    admin.subnet(shared["id"], "10.41.0.0/24")
    guest = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))
    port = guest.port(shared["id"])
    assert len(port["security_groups"]) == 1 and port["port_security_enabled"] is True
    expect_error(guest.post("ports", {"network_id": shared["id"],
                                      "port_security_enabled": False}),
                 403, "PolicyNotAuthorized")


def test_openstack_cli(osc: Callable[..., subprocess.CompletedProcess[str]],
                       server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    _json(osc("network", "create", f"net-{tag}", "-f", "json"))
    osc("subnet", "create", "--network", f"net-{tag}", "--subnet-range", "10.42.0.0/24",
        f"sub-{tag}")
    group = _json(osc("security", "group", "create", f"sg-{tag}", "-f", "json"))
    port = _json(osc("port", "create", "--network", f"net-{tag}", "--security-group",
                     group["id"], "--allowed-address", "ip-address=10.42.0.0/28",
                     f"p-{tag}", "-f", "json"))
    assert port["security_group_ids"] == [group["id"]]
    assert port["allowed_address_pairs"] == [
        {"ip_address": "10.42.0.0/28", "mac_address": port["mac_address"]}]
    bare = _json(osc("port", "create", "--network", f"net-{tag}", "--no-security-group",
                     "--disable-port-security", f"bare-{tag}", "-f", "json"))
    assert bare["port_security_enabled"] is False and bare["security_group_ids"] == []
    proc = osc("port", "set", "--disable-port-security", port["id"], ok=False)
    assert "Port Security must be enabled" in proc.stderr or \
        "security group" in proc.stderr
    osc("port", "set", "--no-security-group", "--no-allowed-address",
        "--disable-port-security", port["id"])
    shown = server.request("GET", f"/v2.0/ports/{port['id']}")[1]["port"]
    assert (shown["port_security_enabled"], shown["security_groups"],
            shown["allowed_address_pairs"]) == (False, [], [])
    proc = osc("port", "create", "--network", f"net-{tag}", "--security-group",
               str(uuid.uuid4()), f"x-{tag}", ok=False)
    assert proc.returncode != 0
    net = _json(osc("network", "create", "--disable-port-security", f"off-{tag}",
                    "-f", "json"))
    assert net["port_security_enabled"] is False
