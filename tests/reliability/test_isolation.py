"""The isolation matrix: what project B (a member, and a reader) can learn of or do to
project A's resources, through a real server over HTTP, on every backend.

Project A builds one of everything (a network, a subnet, ports, a router with its gateway,
an interface and an extra route, a floating IP, a security group and rule, an RBAC entry,
tags, a port binding, a quota override). Every case is one request of B's naming one of
A's ids — in the path, a filter, a marker or the body — and is sent twice: once with A's
id and once with a random id of nothing. Both answers must be the same (status, error type,
message with the id swapped), so B cannot tell A's resource from nothing; where Neutron
answers a hidden parent or item, that answer is a 404; a list filtered by A's id is an
empty list (as Neutron's); and no answer carries any of A's data (names, other ids).

One server per backend, started once for the module; the cases are generated.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, migrated_database
from tests.support.server import Server

SECRET = "secret-of-a"
TAG = "secret-tag-of-a"
QUOTA = 4242  # A's network quota: a number that appears nowhere else


def _headers(project: str, roles: str) -> dict[str, str]:
    return {"X-Project-Id": project, "X-User-Id": f"user-{project}", "X-Roles": roles}


@dataclass
class World:
    server: Server
    a: dict[str, str]  # A's resources by name -> id
    b: dict[str, str]  # B's own resources
    project_a: str
    project_b: str
    secrets: set[str] = field(default_factory=set)  # what no answer to B may contain


def _ok(server: Server, method: str, path: str, body: Any, headers: dict[str, str] | None
        ) -> Any:
    status, out = server.request(method, path, body, headers=headers)
    assert status < 300, (method, path, status, out)
    return out


def _build(server: Server) -> World:
    """A's and B's resources (A: every kind there is; B: what B needs to name A's ids
    in its own requests)."""
    pa, pb = uuid.uuid4().hex, uuid.uuid4().hex
    ha, hb = _headers(pa, "member,reader"), _headers(pb, "member,reader")

    def a(method: str, path: str, body: Any = None) -> Any:
        return _ok(server, method, path, body, ha)

    def b(method: str, path: str, body: Any = None) -> Any:
        return _ok(server, method, path, body, hb)

    def admin(method: str, path: str, body: Any = None) -> Any:
        return _ok(server, method, path, body, None)

    ext = admin("POST", "/v2.0/networks", {"network": {
        "name": "ext", "router:external": True}})["network"]
    admin("POST", "/v2.0/subnets", {"subnet": {
        "network_id": ext["id"], "cidr": "203.0.113.0/24", "ip_version": 4,
        "enable_dhcp": False}})

    ids: dict[str, str] = {}
    net = a("POST", "/v2.0/networks", {"network": {"name": SECRET}})["network"]
    ids["network"] = net["id"]
    ids["subnet"] = a("POST", "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.10.0.0/24", "ip_version": 4,
        "name": SECRET}})["subnet"]["id"]
    port = a("POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "name": SECRET, "device_owner": "compute:nova",
        "device_id": str(uuid.uuid4())}})["port"]
    ids["port"] = port["id"]
    ids["device"] = port["device_id"]
    ids["router"] = a("POST", "/v2.0/routers", {"router": {
        "name": SECRET, "external_gateway_info": {"network_id": ext["id"]}}})["router"]["id"]
    iface = a("PUT", f"/v2.0/routers/{ids['router']}/add_router_interface",
              {"subnet_id": ids["subnet"]})
    ids["interface"] = iface["port_id"]
    a("PUT", f"/v2.0/routers/{ids['router']}/add_extraroutes", {"router": {"routes": [
        {"destination": "172.31.0.0/16", "nexthop": "10.10.0.50"}]}})
    ids["floatingip"] = a("POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "port_id": port["id"],
        "description": SECRET}})["floatingip"]["id"]
    ids["security_group"] = a("POST", "/v2.0/security-groups", {"security_group": {
        "name": SECRET}})["security_group"]["id"]
    ids["security_group_rule"] = a("POST", "/v2.0/security-group-rules", {
        "security_group_rule": {"security_group_id": ids["security_group"],
                                "direction": "ingress", "protocol": "tcp",
                                "port_range_min": 4242, "port_range_max": 4242,
                                "description": SECRET}})["security_group_rule"]["id"]
    shared = a("POST", "/v2.0/networks", {"network": {"name": SECRET}})["network"]
    ids["shared_network"] = shared["id"]
    ids["rbac_policy"] = a("POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": shared["id"], "action": "access_as_shared",
        "target_tenant": uuid.uuid4().hex}})["rbac_policy"]["id"]
    for coll, key in (("networks", "network"), ("subnets", "subnet"), ("ports", "port"),
                      ("routers", "router"), ("floatingips", "floatingip"),
                      ("security-groups", "security_group")):
        a("PUT", f"/v2.0/{coll}/{ids[key]}/tags/{TAG}")
    admin("PUT", f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "host-of-a"}})
    admin("PUT", f"/v2.0/quotas/{pa}", {"quota": {"network": QUOTA}})

    mine: dict[str, str] = {}
    bnet = b("POST", "/v2.0/networks", {"network": {"name": "b"}})["network"]
    mine["network"] = bnet["id"]
    mine["subnet"] = b("POST", "/v2.0/subnets", {"subnet": {
        "network_id": bnet["id"], "cidr": "10.20.0.0/24", "ip_version": 4}})["subnet"]["id"]
    mine["port"] = b("POST", "/v2.0/ports", {"port": {"network_id": bnet["id"]}})["port"]["id"]
    mine["router"] = b("POST", "/v2.0/routers", {"router": {"name": "b"}})["router"]["id"]
    mine["security_group"] = b("POST", "/v2.0/security-groups", {"security_group": {
        "name": "b"}})["security_group"]["id"]
    mine["floatingip"] = b("POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"]}})["floatingip"]["id"]
    mine["external"] = ext["id"]

    secrets = {SECRET, TAG, str(QUOTA), "host-of-a", *ids.values()}
    return World(server, ids, mine, pa, pb, secrets)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    workdir: Path = tmp_path_factory.mktemp(f"isolation-{request.param}")
    with migrated_database(request.param, workdir) as url, Server(url, workdir) as srv:
        yield _build(srv)


# --- the matrix ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One request of B's. ``{x}`` in the path or body stands for the id under test (A's,
    or a random one); ``{b:NAME}`` for B's own resources; ``{project_a}`` for A's project.
    ``expect``: "hidden" (404, the same as for nothing), "empty" (200, an empty list),
    "same" (whatever Neutron answers for nothing, and that), "refused" (the same, an
    error)."""
    name: str
    method: str
    path: str
    body: Any = None
    target: str = ""  # the name of A's resource that {x} stands for
    expect: str = "hidden"
    # what a reader gets, when not ``expect``: a reader's change of B's own item is
    # refused (403) before any id in its body is looked at, whatever that id is
    reader: str | None = None


def _cases() -> list[Case]:
    out: list[Case] = []
    items = {  # collection -> (A's resource, member body of an update)
        "networks": ("network", {"network": {"name": "x"}}),
        "subnets": ("subnet", {"subnet": {"name": "x"}}),
        "ports": ("port", {"port": {"name": "x"}}),
        "routers": ("router", {"router": {"name": "x"}}),
        "floatingips": ("floatingip", {"floatingip": {"description": "x"}}),
        "security-groups": ("security_group", {"security_group": {"name": "x"}}),
        "security-group-rules": ("security_group_rule", {"security_group_rule": {}}),
        # a valid body: PUTs validate it before the lookup (400 for any id, as Neutron), and
        # the case is about the lookup (a foreign entry is 404)
        "rbac-policies": ("rbac_policy", {"rbac_policy": {
            "target_tenant": "5b5a6b0e-0000-4000-8000-000000000001"}}),
    }
    for coll, (key, update) in items.items():
        path = f"/v2.0/{coll}/{{x}}"
        out += [
            Case(f"show-{coll}", "GET", path, target=key),
            Case(f"update-{coll}", "PUT", path, update, key,
                 "same" if coll == "security-group-rules" else "hidden"),
            Case(f"delete-{coll}", "DELETE", path, target=key),
            # sub-resources: tags
            Case(f"tags-list-{coll}", "GET", f"{path}/tags", target=key),
            Case(f"tags-replace-{coll}", "PUT", f"{path}/tags", {"tags": ["x"]}, key),
            Case(f"tags-add-{coll}", "POST", f"{path}/tags", {"tags": ["x"]}, key),
            Case(f"tags-clear-{coll}", "DELETE", f"{path}/tags", target=key),
            Case(f"tag-show-{coll}", "GET", f"{path}/tags/{TAG}", target=key),
            Case(f"tag-put-{coll}", "PUT", f"{path}/tags/x", target=key),
            Case(f"tag-delete-{coll}", "DELETE", f"{path}/tags/{TAG}", target=key),
            # lists: filtered by A's id, or paged from it
            Case(f"list-{coll}-by-id", "GET", f"/v2.0/{coll}?id={{x}}", target=key,
                 expect="empty"),
            Case(f"list-{coll}-marker", "GET", f"/v2.0/{coll}?limit=1&marker={{x}}",
                 target=key, expect="same" if coll == "rbac-policies" else "hidden"),
            Case(f"list-{coll}-marker-by-name", "GET",
                 f"/v2.0/{coll}?limit=1&sort_key=id&sort_dir=asc&marker={{x}}"
                 if coll in ("security-group-rules", "rbac-policies", "floatingips") else
                 f"/v2.0/{coll}?limit=1&sort_key=name&sort_dir=asc&marker={{x}}",
                 target=key, expect="same" if coll == "rbac-policies" else "hidden"),
            Case(f"list-{coll}-of-project", "GET",
                 f"/v2.0/{coll}?project_id={{project_a}}", expect="empty"),
        ]
    # filters naming A's parents and devices: empty lists
    for name, query, key in (
            ("subnets-by-network", "subnets?network_id={x}", "network"),
            ("ports-by-network", "ports?network_id={x}", "network"),
            ("ports-by-device", "ports?device_id={x}", "router"),
            ("ports-by-vm", "ports?device_id={x}", "device"),
            ("ports-by-subnet", "ports?fixed_ips=subnet_id%3D{x}", "subnet"),
            ("floatingips-by-router", "floatingips?router_id={x}", "router"),
            ("floatingips-by-port", "floatingips?port_id={x}", "port"),
            ("rules-by-group", "security-group-rules?security_group_id={x}",
             "security_group"),
            ("rules-by-remote-group", "security-group-rules?remote_group_id={x}",
             "security_group"),
            ("rbac-by-object", "rbac-policies?object_id={x}", "shared_network"),
            ("networks-by-tag", "networks?tags=" + TAG, ""),
            ("ports-by-name", "ports?name=" + SECRET, ""),
    ):
        out.append(Case(f"list-{name}", "GET", f"/v2.0/{query}", target=key,
                        expect="empty"))
    # router actions and port bindings on A's router and port
    r = "/v2.0/routers/{x}"
    out += [
        Case("router-add-interface", "PUT", f"{r}/add_router_interface",
             {"subnet_id": "{b:subnet}"}, "router"),
        Case("router-remove-interface", "PUT", f"{r}/remove_router_interface",
             {"port_id": "{b:port}"}, "router"),
        Case("router-add-extraroutes", "PUT", f"{r}/add_extraroutes",
             {"router": {"routes": []}}, "router"),
        Case("router-remove-extraroutes", "PUT", f"{r}/remove_extraroutes",
             {"router": {"routes": []}}, "router"),
    ]
    p = "/v2.0/ports/{x}/bindings"
    out += [
        Case("bindings-list", "GET", p, target="port"),
        Case("binding-create", "POST", p, {"binding": {"host": "h"}}, "port"),
        Case("binding-show", "GET", f"{p}/host-of-a", target="port"),
        Case("binding-update", "PUT", f"{p}/host-of-a", {"binding": {}}, "port"),
        Case("binding-activate", "PUT", f"{p}/host-of-a/activate", target="port"),
        Case("binding-delete", "DELETE", f"{p}/host-of-a", target="port"),
    ]
    # bodies naming A's resources as parents, targets, groups, devices
    own_port = {"network_id": "{b:network}"}
    out += [
        Case("subnet-on-network", "POST", "/v2.0/subnets", {"subnet": {
            "network_id": "{x}", "cidr": "10.99.0.0/24", "ip_version": 4}}, "network"),
        Case("port-on-network", "POST", "/v2.0/ports", {"port": {"network_id": "{x}"}},
             "network"),
        Case("port-on-network-with-mac", "POST", "/v2.0/ports", {"port": {
            "network_id": "{x}", "mac_address": "fa:16:3e:00:00:42"}}, "network"),
        # (a reader is refused its own first item: 403 either way)
        Case("ports-bulk-on-network", "POST", "/v2.0/ports", {"ports": [
            own_port, {"network_id": "{x}"}]}, "network", reader="same"),
        Case("port-on-subnet", "POST", "/v2.0/ports", {"port": {
            **own_port, "fixed_ips": [{"subnet_id": "{x}"}]}}, "subnet", "same", reader="same"),
        Case("port-update-subnet", "PUT", "/v2.0/ports/{b:port}", {"port": {
            "fixed_ips": [{"subnet_id": "{x}"}]}}, "subnet", "same", reader="same"),
        Case("port-with-group", "POST", "/v2.0/ports", {"port": {
            **own_port, "security_groups": ["{x}"]}}, "security_group", reader="same"),
        Case("port-update-group", "PUT", "/v2.0/ports/{b:port}", {"port": {
            "security_groups": ["{x}"]}}, "security_group", reader="same"),
        Case("port-as-router-interface", "POST", "/v2.0/ports", {"port": {
            **own_port, "device_owner": "network:router_interface", "device_id": "{x}"}},
            "router", "refused", reader="same"),
        Case("port-as-router-gateway", "POST", "/v2.0/ports", {"port": {
            **own_port, "device_owner": "network:router_gateway", "device_id": "{x}"}},
            "router", "refused", reader="same"),
        Case("port-as-floatingip-port", "POST", "/v2.0/ports", {"port": {
            **own_port, "device_owner": "network:floatingip", "device_id": "{x}"}},
            "floatingip", "refused", reader="same"),
        Case("port-update-to-router-interface", "PUT", "/v2.0/ports/{b:port}", {"port": {
            "device_owner": "network:router_interface", "device_id": "{x}"}},
            "router", "refused", reader="same"),
        Case("own-router-add-subnet", "PUT", "/v2.0/routers/{b:router}/add_router_interface",
             {"subnet_id": "{x}"}, "subnet", reader="same"),
        Case("own-router-add-port", "PUT", "/v2.0/routers/{b:router}/add_router_interface",
             {"port_id": "{x}"}, "port", reader="same"),
        Case("own-router-remove-subnet", "PUT",
             "/v2.0/routers/{b:router}/remove_router_interface", {"subnet_id": "{x}"},
             "subnet", reader="same"),
        Case("own-router-remove-port", "PUT",
             "/v2.0/routers/{b:router}/remove_router_interface", {"port_id": "{x}"},
             "interface", "same", reader="same"),
        Case("router-with-gateway", "POST", "/v2.0/routers", {"router": {
            "external_gateway_info": {"network_id": "{x}"}}}, "network", reader="same"),
        Case("router-update-gateway", "PUT", "/v2.0/routers/{b:router}", {"router": {
            "external_gateway_info": {"network_id": "{x}"}}}, "network", reader="same"),
        Case("floatingip-on-network", "POST", "/v2.0/floatingips", {"floatingip": {
            "floating_network_id": "{x}"}}, "network", reader="same"),
        Case("floatingip-for-port", "POST", "/v2.0/floatingips", {"floatingip": {
            "floating_network_id": "{b:external}", "port_id": "{x}"}}, "port", reader="same"),
        Case("floatingip-on-subnet", "POST", "/v2.0/floatingips", {"floatingip": {
            "floating_network_id": "{b:external}", "subnet_id": "{x}"}}, "subnet", "same",
            reader="same"),
        Case("router-gateway-on-subnet", "POST", "/v2.0/routers", {"router": {
            "external_gateway_info": {"network_id": "{b:external}", "external_fixed_ips": [
                {"subnet_id": "{x}"}]}}}, "subnet", "same", reader="same"),
        Case("floatingip-associate", "PUT", "/v2.0/floatingips/{b:floatingip}", {
            "floatingip": {"port_id": "{x}"}}, "port", reader="same"),
        Case("rule-in-group", "POST", "/v2.0/security-group-rules", {"security_group_rule": {
            "security_group_id": "{x}", "direction": "ingress"}}, "security_group", reader="same"),
        Case("rule-remote-group", "POST", "/v2.0/security-group-rules", {
            "security_group_rule": {"security_group_id": "{b:security_group}",
                                    "direction": "ingress", "remote_group_id": "{x}"}},
            "security_group", reader="same"),
        # (an entry on a network the caller may not see: Neutron's 400, for both)
        Case("rbac-on-network", "POST", "/v2.0/rbac-policies", {"rbac_policy": {
            "object_type": "network", "object_id": "{x}", "action": "access_as_shared",
            "target_tenant": "{project_b}"}}, "network", "same", reader="same"),
        Case("rbac-on-shared-network", "POST", "/v2.0/rbac-policies", {"rbac_policy": {
            "object_type": "network", "object_id": "{x}", "action": "access_as_external",
            "target_tenant": "{project_b}"}}, "shared_network", "same", reader="same"),
    ]
    # quotas of A's project: what Neutron answers any other project's (a 403 whether or
    # not the project has anything), with none of its values
    q = "/v2.0/quotas/{x}"
    out += [
        Case("quota-show", "GET", q, target="project", expect="same"),
        Case("quota-details", "GET", f"{q}/details", target="project", expect="same"),
        Case("quota-default", "GET", f"{q}/default", target="project", expect="same"),
        Case("quota-update", "PUT", q, {"quota": {"network": 1}}, "project", "same"),
        Case("quota-delete", "DELETE", q, target="project", expect="same"),
    ]
    return out


CASES = _cases()
CALLERS = {"member": "member,reader", "reader": "reader"}


def _fill(template: Any, x: str, world: World) -> Any:
    """The template with {x}, {b:NAME} and {project_a} filled in."""
    if isinstance(template, dict):
        return {k: _fill(v, x, world) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, x, world) for v in template]
    if isinstance(template, str):
        out = template.replace("{x}", x).replace("{project_a}", world.project_a)
        out = out.replace("{project_b}", world.project_b)
        for name, id_ in world.b.items():
            out = out.replace(f"{{b:{name}}}", id_)
        return out
    return template


def _send(world: World, headers: dict[str, str], case: Case, x: str) -> tuple[int, Any, str]:
    path = _fill(case.path, urllib.parse.quote(x, safe=""), world)
    body = _fill(case.body, x, world)
    status, out = world.server.request(case.method, path, body, headers=headers)
    return status, out, json.dumps(out)


def _error(out: Any) -> tuple[str, str]:
    assert isinstance(out, dict) and set(out) == {"NeutronError"}, out
    return out["NeutronError"]["type"], out["NeutronError"]["message"]


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_foreign_project_learns_nothing(world: World, case: Case, caller: str) -> None:
    headers = _headers(world.project_b, CALLERS[caller])
    foreign = world.project_a if case.target == "project" else world.a.get(case.target, "")
    expect = (case.reader or case.expect) if caller == "reader" else case.expect
    status, out, text = _send(world, headers, case, foreign)
    shown = f"{case.method} {case.path} as {caller}: {status} {text[:300]}"
    leaked = sorted(s for s in world.secrets - {foreign} if s in text)
    assert not leaked, f"{shown} carries A's {leaked}"
    if expect == "empty":
        assert status == 200, shown
        lists = [v for k, v in out.items() if not k.endswith("_links")]
        assert lists == [[]], shown
        return
    nothing = f"{uuid.uuid4()}" if case.target != "project" else f"p-{uuid.uuid4().hex}"
    r_status, r_out, r_text = _send(world, headers, case, nothing)
    if expect == "hidden":
        assert status == 404, shown
    if expect == "refused":
        assert status >= 400, shown
    assert status == r_status, f"{shown}; for nothing: {r_status} {r_text[:300]}"
    if status >= 400:
        f_type, f_msg = _error(out)
        n_type, n_msg = _error(r_out)
        assert (f_type, f_msg.replace(foreign, nothing)) == (n_type, n_msg), \
            f"{shown}; for nothing: {r_text[:300]}"


# --- plumbing: a project's ports in another project's router ---------------------------------

def _call(world: World, headers: dict[str, str] | None, method: str, path: str,
          body: Any = None) -> tuple[int, Any]:
    return world.server.request(method, path, body, headers=headers)


def _expect(result: tuple[int, Any], status: int, type_: str | None = None) -> Any:
    got, body = result
    assert got == status, result
    if type_ is not None:
        assert body["NeutronError"]["type"] == type_, body
    return body


def _network_with_subnet(world: World, headers: dict[str, str], cidr: str
                         ) -> tuple[str, str]:
    net = _ok(world.server, "POST", "/v2.0/networks", {"network": {}}, headers)["network"]
    sub = _ok(world.server, "POST", "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "cidr": cidr, "ip_version": 4}}, headers)["subnet"]
    return net["id"], sub["id"]


def _router(world: World, headers: dict[str, str], subnet_id: str) -> str:
    router = _ok(world.server, "POST", "/v2.0/routers", {"router": {
        "external_gateway_info": {"network_id": world.b["external"]}}}, headers)["router"]
    _ok(world.server, "PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
        {"subnet_id": subnet_id}, headers)
    return str(router["id"])


def test_no_port_of_another_project_becomes_a_routers_leg(world: World) -> None:
    """A member of B cannot make its port an interface or the gateway of A's router
    (Neutron's 409 DeviceIDNotOwnedByTenant), by create or by update; its own router it
    may name. A keeps its router to itself and deletes it."""
    ha = _headers(world.project_a, "member,reader")
    hb = _headers(world.project_b, "member,reader")
    _, sub_a = _network_with_subnet(world, ha, "10.50.0.0/24")
    router_a = _router(world, ha, sub_a)
    net_b, sub_b = _network_with_subnet(world, hb, "10.51.0.0/24")
    for owner in ("network:router_interface", "network:router_gateway",
                  "network:router_interface_distributed"):
        body = _expect(_call(world, hb, "POST", "/v2.0/ports", {"port": {
            "network_id": net_b, "device_owner": owner, "device_id": router_a,
            "fixed_ips": [{"subnet_id": sub_b, "ip_address": "10.51.0.1"}]}}),
            409, "DeviceIDNotOwnedByTenant")
        assert body["NeutronError"]["message"] == (
            f"The following device_id {router_a} is not owned by your tenant or matches "
            "another tenants router.")
    port = _ok(world.server, "POST", "/v2.0/ports", {"port": {"network_id": net_b}},
               hb)["port"]
    _expect(_call(world, hb, "PUT", f"/v2.0/ports/{port['id']}", {"port": {
        "device_owner": "network:router_interface", "device_id": router_a}}),
        409, "DeviceIDNotOwnedByTenant")
    _ok(world.server, "PUT", f"/v2.0/ports/{port['id']}", {"port": {
        "device_owner": "network:router_interface"}}, hb)  # no device: nothing to own
    _expect(_call(world, hb, "PUT", f"/v2.0/ports/{port['id']}", {"port": {
        "device_id": router_a}}), 409, "DeviceIDNotOwnedByTenant")
    # nor through A's router's actions (404: B cannot see it), nor by A taking B's port
    _expect(_call(world, hb, "PUT", f"/v2.0/routers/{router_a}/add_router_interface",
                  {"subnet_id": sub_b}), 404, "RouterNotFound")
    # B's own router: as Neutron, a project may say so of its own
    router_b = _ok(world.server, "POST", "/v2.0/routers", {"router": {}}, hb)["router"]
    _ok(world.server, "POST", "/v2.0/ports", {"port": {
        "network_id": net_b, "device_owner": "network:router_interface",
        "device_id": router_b["id"]}}, hb)
    # B's ports reach nothing through A's router; A's router stays A's to delete
    vm = _ok(world.server, "POST", "/v2.0/ports", {"port": {"network_id": net_b}},
             hb)["port"]
    _expect(_call(world, hb, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": world.b["external"], "port_id": vm["id"]}}),
        404, "ExternalGatewayForFloatingIPNotFound")
    _ok(world.server, "PUT", f"/v2.0/routers/{router_a}/remove_router_interface",
        {"subnet_id": sub_a}, ha)
    _expect(_call(world, ha, "DELETE", f"/v2.0/routers/{router_a}"), 204)


def test_l3_takes_only_the_routers_own_legs(world: World) -> None:
    """The L3 side's own guard: a port of another project naming A's router (here made by
    an admin, who the port rules do not hold; before them, by anyone) is no leg of it —
    floating IPs do not go through it, extra routes cannot use it, it does not keep A
    from deleting its router, and it is no interface to remove. An admin cannot attach
    another project's port either (it would be no leg)."""
    ha = _headers(world.project_a, "member,reader")
    hb = _headers(world.project_b, "member,reader")
    _, sub_a = _network_with_subnet(world, ha, "10.60.0.0/24")
    router_a = _router(world, ha, sub_a)
    net_b, sub_b = _network_with_subnet(world, hb, "10.61.0.0/24")
    fake = _ok(world.server, "POST", "/v2.0/ports", {"port": {
        "network_id": net_b, "project_id": world.project_b,
        "device_owner": "network:router_interface", "device_id": router_a,
        "fixed_ips": [{"subnet_id": sub_b, "ip_address": "10.61.0.1"}]}}, None)["port"]
    fake_gateway = _ok(world.server, "POST", "/v2.0/ports", {"port": {
        "network_id": net_b, "project_id": world.project_b,
        "device_owner": "network:router_gateway", "device_id": router_a}}, None)["port"]
    vm = _ok(world.server, "POST", "/v2.0/ports", {"port": {"network_id": net_b}},
             hb)["port"]
    _expect(_call(world, hb, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": world.b["external"], "port_id": vm["id"]}}),
        404, "ExternalGatewayForFloatingIPNotFound")
    # no leg of the router, so not held by it: its project deletes it like any port
    _expect(_call(world, hb, "DELETE", f"/v2.0/ports/{fake_gateway['id']}"), 204)
    _expect(_call(world, ha, "PUT", f"/v2.0/routers/{router_a}/add_extraroutes", {
        "router": {"routes": [{"destination": "172.30.0.0/16",
                               "nexthop": "10.61.0.50"}]}}), 400, "InvalidRoutes")
    _expect(_call(world, ha, "PUT", f"/v2.0/routers/{router_a}/remove_router_interface",
                  {"port_id": fake["id"]}), 404, "RouterInterfaceNotFound")
    # the router's own interface still holds it
    _expect(_call(world, ha, "DELETE", f"/v2.0/routers/{router_a}"), 409, "RouterInUse")
    other = _ok(world.server, "POST", "/v2.0/ports", {"port": {"network_id": net_b}},
                hb)["port"]
    _expect(_call(world, None, "PUT", f"/v2.0/routers/{router_a}/add_router_interface",
                  {"port_id": other["id"]}), 409, "DeviceIDNotOwnedByTenant")
    _ok(world.server, "PUT", f"/v2.0/routers/{router_a}/remove_router_interface",
        {"subnet_id": sub_a}, ha)
    _expect(_call(world, ha, "DELETE", f"/v2.0/routers/{router_a}"), 204)
    _expect(_call(world, hb, "DELETE", f"/v2.0/ports/{fake['id']}"), 204)
