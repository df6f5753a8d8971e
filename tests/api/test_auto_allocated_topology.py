"""Auto-allocated topology ("get me a network", auto-allocated-topology) over HTTP, on
every backend, as `openstack network auto allocated topology create` and tempest ask:
the requirements and their Neutron errors, networks' is_default, the topology made on the
first GET (network, subnet from the default pool, router on the default external network,
its interface) and the same on every later GET, concurrent first GETs giving one topology,
and DELETE taking it down."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.neutron import Api, expect_error
from tests.support.osc import Osc, as_json
from tests.support.server import Server, project_headers

PATH = "/v2.0/auto-allocated-topology"


def _get(api: Api, project: str, query: str = "") -> tuple[int, Any]:
    return api.request("GET", f"{PATH}/{project}{'?' + query if query else ''}")


def _external(admin: Api, cidr: str, **attrs: Any) -> dict[str, Any]:
    net = admin.network(name=f"ext-{uuid.uuid4().hex[:6]}", **{"router:external": True},
                        **attrs)
    admin.subnet(net["id"], cidr, enable_dhcp=False)
    return net


def _topology(api: Api, project: str) -> tuple[int, int, int]:
    """(networks, subnets, routers) named auto_allocated_* the project has, as tempest
    counts them."""
    def count(collection: str) -> int:
        return sum(1 for r in api.list(collection)
                   if r["name"].startswith("auto_allocated_") and r["project_id"] == project)
    return count("networks"), count("subnets"), count("routers")


def test_requirements_and_errors(admin: Api, member: Api, project: str) -> None:
    """First in the module: the server has no default external network nor pool yet."""
    no_ext = "Deployment error: No default router:external network."
    expect_error(_get(member, project, "fields=dry-run"), 409, "AutoAllocationFailure",
                 no_ext)
    expect_error(_get(member, project), 409, "AutoAllocationFailure", no_ext)
    net = _external(admin, "198.51.100.0/24", is_default=True)
    expect_error(_get(member, project, "fields=dry-run"), 409, "AutoAllocationFailure",
                 "Deployment error: No default subnetpools defined.")
    expect_error(_get(member, project), 409, "AutoAllocationFailure",
                 "Deployment error: Unable to provide project private network.")
    assert _topology(member, project) == (0, 0, 0)  # nothing left half-made
    expect_error(_get(member, project, "fields=name"), 400, "BadRequest")
    admin.remove("networks", net["id"])


@pytest.fixture(scope="module")
def deployment(server: Server) -> dict[str, Any]:
    """A default external network and default shared IPv4 and IPv6 subnet pools, for the
    rest."""
    admin = Api(server, project_headers("admin-project", admin=True))
    net = _external(admin, "203.0.113.0/24", is_default=True)
    pool = admin.create("subnetpools", name="default-v4", prefixes=["10.200.0.0/16"],
                        default_prefixlen=26, shared=True, is_default=True)
    pool6 = admin.create("subnetpools", name="default-v6", prefixes=["fd00:200::/48"],
                         default_prefixlen=64, shared=True, is_default=True)
    return {"external": net, "pool": pool, "pool6": pool6}


def test_is_default(admin: Api, member: Api, deployment: dict[str, Any]) -> None:
    ext = deployment["external"]
    assert admin.get("networks", ext["id"])[1]["network"]["is_default"] is True
    internal = member.network(name="internal")
    assert "is_default" not in member.get("networks", internal["id"])[1]["network"]
    assert [n["id"] for n in admin.list("networks", "is_default=true")] == [ext["id"]]
    # one default at a time
    other = _external(admin, "192.0.2.0/24")
    assert other["is_default"] is False
    expect_error(admin.put("networks", other["id"], {"is_default": True}), 409,
                 "DefaultExternalNetworkExists",
                 f"A default external network already exists: {ext['id']}.")
    expect_error(admin.post("networks", {"name": "x", "router:external": True,
                                         "is_default": True}),
                 409, "DefaultExternalNetworkExists")
    # only admins set it; an update without it keeps it (tempest's check)
    expect_error(member.put("networks", internal["id"], {"is_default": True}), 403,
                 "PolicyNotAuthorized")
    admin.update("networks", ext["id"], description="gman")
    assert admin.get("networks", ext["id"])[1]["network"]["is_default"] is True
    admin.remove("networks", other["id"])


def test_get_creates_once(admin: Api, member: Api, project: str,
                          deployment: dict[str, Any]) -> None:
    status, body = _get(member, project, "fields=dry-run")
    assert status == 200, body
    assert body == {"auto_allocated_topology": {"id": "dry-run=pass", "project_id": project,
                                                "tenant_id": project}}
    assert _topology(member, project) == (0, 0, 0)
    status, body = _get(member, project)
    assert status == 200, body
    topo = body["auto_allocated_topology"]
    assert topo["project_id"] == project
    network = member.get("networks", topo["id"])[1]["network"]
    assert (network["name"], network["admin_state_up"]) == ("auto_allocated_network", True)
    subnets = member.list("subnets", f"network_id={topo['id']}")
    assert sorted((s["name"], s["subnetpool_id"]) for s in subnets) == [
        ("auto_allocated_subnet_v4", deployment["pool"]["id"]),
        ("auto_allocated_subnet_v6", deployment["pool6"]["id"])]
    assert sorted(s["cidr"][-3:] for s in subnets) == ["/26", "/64"]
    routers = member.list("routers", "name=auto_allocated_router")
    assert len(routers) == 1
    gateway = routers[0]["external_gateway_info"]
    assert gateway["network_id"] == deployment["external"]["id"]
    assert routers[0]["admin_state_up"] is True
    interfaces = member.list("ports", f"device_id={routers[0]['id']}&network_id={topo['id']}")
    assert sorted(p["fixed_ips"][0]["subnet_id"] for p in interfaces) == sorted(
        s["id"] for s in subnets)
    # idempotent afterwards; "None" is the caller's own project
    assert _get(member, project)[1]["auto_allocated_topology"]["id"] == topo["id"]
    assert _get(member, "None")[1]["auto_allocated_topology"]["id"] == topo["id"]
    assert _topology(member, project) == (1, 2, 1)


def test_concurrent_first_gets_give_one_topology(member: Api, project: str,
                                                 deployment: dict[str, Any]) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: _get(member, project), range(4)))
    assert all(status == 200 for status, _ in results), results
    ids = {body["auto_allocated_topology"]["id"] for _, body in results}
    assert len(ids) == 1
    assert _topology(member, project) == (1, 2, 1)
    assert [n["id"] for n in member.list("networks", "name=auto_allocated_network")] == [
        ids.pop()]


def test_delete(member: Api, project: str, deployment: dict[str, Any]) -> None:
    assert member.request("DELETE", f"{PATH}/{project}") == (204, None)  # none yet: no-op
    topo = _get(member, project)[1]["auto_allocated_topology"]
    assert _topology(member, project) == (1, 2, 1)
    assert member.request("DELETE", f"{PATH}/{project}") == (204, None)
    assert _topology(member, project) == (0, 0, 0)
    expect_error(member.get("networks", topo["id"]), 404, "NetworkNotFound")
    # a new one afterwards
    again = _get(member, project)[1]["auto_allocated_topology"]
    assert again["id"] != topo["id"] and _topology(member, project) == (1, 2, 1)


def test_other_projects(admin: Api, member: Api, project: str, server: Server,
                        deployment: dict[str, Any]) -> None:
    other = f"p-{uuid.uuid4().hex[:12]}"
    expect_error(_get(member, other), 403, "NotAuthorized")
    expect_error(member.request("DELETE", f"{PATH}/{other}"), 403, "NotAuthorized")
    expect_error(_get(admin, "x" * 256, "fields=dry-run"), 400, "InvalidInput")
    # an admin makes one for another project: that project's resources
    status, body = _get(admin, other)
    assert status == 200, body
    net = admin.get("networks", body["auto_allocated_topology"]["id"])[1]["network"]
    assert net["project_id"] == other
    theirs = Api(server, project_headers(other))
    assert _get(theirs, other)[1] == body
    # a reader of the project sees it, only a member deletes it
    reader = Api(server, {"X-Project-Id": other, "X-Roles": "reader"})
    assert _get(reader, other)[1] == body
    expect_error(reader.request("DELETE", f"{PATH}/{other}"), 403, "PolicyNotAuthorized")
    assert admin.request("DELETE", f"{PATH}/{other}") == (204, None)
    assert _topology(admin, other) == (0, 0, 0)


def test_openstack_cli(osc: Osc, admin: Api, deployment: dict[str, Any]) -> None:
    """`openstack network auto allocated topology create|delete --project P` (the CLI
    passes the project as given; without one it needs Keystone's), as the operator."""
    project = f"p-{uuid.uuid4().hex[:12]}"
    topo = ("network", "auto", "allocated", "topology")
    checked = as_json(osc(*topo, "create", "--project", project, "--check-resources",
                          "-f", "json"))
    assert checked and _topology(admin, project) == (0, 0, 0)
    created = as_json(osc(*topo, "create", "--project", project, "-f", "json"))
    net = admin.get("networks", created["id"])[1]["network"]
    assert (net["name"], net["project_id"]) == ("auto_allocated_network", project)
    again = as_json(osc(*topo, "create", "--project", project, "-f", "json"))
    assert again["id"] == created["id"]
    osc(*topo, "delete", "--project", project)
    assert _topology(admin, project) == (0, 0, 0)
