"""Errors over HTTP: routing, methods, malformed bodies, attribute rules, extensions, and
a little fuzzing: wrong values for every attribute are a 4xx, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

from neutrino.schema import network, port, subnet
from tests.support.neutron import Api, expect_error, invalid_input
from tests.support.server import Server, project_headers

NOT_FOUND = "The resource could not be found."
NOT_ALLOWED = ("The server could not comply with the request since it is either malformed "
               "or otherwise incorrect.")


def test_routing(api: Api) -> None:
    net = api.network()
    for path in ("/v2.0/foo", "/v2.0", "/foo", "/v2.0/networks/x/y", "/v1.0/networks",
                 "/v2.0/networks/%00",
                 f"/v2.0/networks/{net['id']}/bogus"):
        expect_error(api.request("GET", path), 404, "HTTPNotFound", NOT_FOUND)
    for method, path in (("PUT", "/v2.0/networks"), ("DELETE", "/v2.0/networks"),
                         ("PATCH", "/v2.0/networks"), ("POST", f"/v2.0/networks/{net['id']}"),
                         ("PATCH", f"/v2.0/networks/{net['id']}"), ("POST", "/"),
                         ("DELETE", "/v2.0/")):
        expect_error(api.request(method, path), 405, "HTTPMethodNotAllowed", NOT_ALLOWED)
    # a .json suffix is accepted everywhere
    assert api.request("GET", "/v2.0/networks.json")[0] == 200
    assert api.request("GET", f"/v2.0/networks/{net['id']}.json")[1]["network"]["id"] == \
        net["id"]
    assert api.request("GET", "/v2.0/extensions.json")[0] == 200
    # ids are not checked to be UUIDs: unknown is unknown
    expect_error(api.request("GET", "/v2.0/ports/not-a-uuid"), 404, "PortNotFound",
                 "Port not-a-uuid could not be found.")


def test_bodies(api: Api) -> None:
    net = api.network()
    for raw in (b"{", b"[]", b'"network"', b"nul"):
        expect_error(api.server.request("POST", "/v2.0/networks", raw=raw,
                                        headers=api.headers),
                     400, "HTTPBadRequest", "Body contains invalid data")
    for body in ({}, {"network": None}, {"nets": {}}):
        expect_error(api.request("POST", "/v2.0/networks", body), 400, "HTTPBadRequest",
                     "Unable to find 'network' in request body")
    expect_error(api.request("PUT", f"/v2.0/networks/{net['id']}", {}), 400,
                 "HTTPBadRequest", "Unable to find 'network' in request body")
    expect_error(api.request("POST", "/v2.0/networks", {"network": "x"}), 400,
                 "HTTPBadRequest", "Object 'network' contains invalid data")
    expect_error(api.request("PUT", f"/v2.0/networks/{net['id']}", {"networks": [{}]}), 400,
                 "HTTPBadRequest", "Bulk operation not supported")
    expect_error(api.post("networks", {"foo": 1}), 400, "HTTPBadRequest",
                 "Unrecognized attribute(s) 'foo'")
    msg = expect_error(api.post("networks", {"foo": 1, "bar": 2, "name": "x"}), 400,
                       "HTTPBadRequest")
    assert msg in ("Unrecognized attribute(s) 'foo, bar'", "Unrecognized attribute(s) 'bar, foo'")
    expect_error(api.put("networks", net["id"], {"foo": 1}), 400, "HTTPBadRequest",
                 "Unrecognized attribute(s) 'foo'")
    for attr in ("id", "status", "subnets", "revision_number", "created_at"):
        expect_error(api.post("networks", {attr: "x"}), 400, "HTTPBadRequest",
                     f"Attribute '{attr}' not allowed in POST")
        expect_error(api.put("networks", net["id"], {attr: "x"}), 400, "HTTPBadRequest",
                     f"Cannot update read-only attribute {attr}")
    expect_error(api.post("ports", {"name": "no network"}), 400, "HTTPBadRequest",
                 "Failed to parse request. Required attribute 'network_id' not specified")
    expect_error(api.request("DELETE", f"/v2.0/networks/{net['id']}", {"network": {}}), 400,
                 "HTTPBadRequest", "Request body is not supported in DELETE.")
    assert api.get("networks", net["id"])[0] == 200


def test_attribute_values(api: Api) -> None:
    long = "n" * 256
    expect_error(api.post("networks", {"name": long}), 400, "HTTPBadRequest",
                 f"Invalid input for name. Reason: '{long}' exceeds maximum length of 255.")
    for name in ("a\nb", " lead", "trail ", "tab\there", "\u2028", "emoji \U0001F600"):
        expect_error(api.post("networks", {"name": name}), 400, "HTTPBadRequest",
                     f"Invalid input for name. Reason: '{name}' is not a valid string.")
    assert api.network(name="inner space, ünïcode")["name"] == "inner space, ünïcode"
    expect_error(api.post("networks", {"name": 5}), 400, "HTTPBadRequest",
                 "Invalid input for name. Reason: '5' is not a valid string.")
    expect_error(api.post("networks", {"description": "d" * 256}), 400, "HTTPBadRequest",
                 contains="exceeds maximum length of 255")
    expect_error(api.post("networks", {"admin_state_up": "maybe"}), 400, "InvalidInput",
                 invalid_input("'maybe' cannot be converted to boolean"))
    assert api.network(admin_state_up="False")["admin_state_up"] is False
    expect_error(api.post("ports", {"network_id": "nope"}), 400, "HTTPBadRequest",
                 "Invalid input for network_id. Reason: 'nope' is not a valid UUID.")


def test_projects(api: Api, admin: Api, project: str) -> None:
    expect_error(api.post("networks", {"project_id": project, "tenant_id": "other"}), 400,
                 "HTTPBadRequest", "'project_id' and 'tenant_id' do not match")
    expect_error(api.post("networks", {"tenant_id": "other"}), 400, "HTTPBadRequest",
                 "Specifying 'project_id' other than the authenticated project in request is "
                 "not allowed for the current user.")
    assert api.network(tenant_id=project)["project_id"] == project
    made = admin.network(project_id=project)
    assert (made["project_id"], made["tenant_id"]) == (project, project)
    assert made["id"] in {n["id"] for n in api.list("networks")}


def test_extensions(api: Api) -> None:
    status, body = api.request("GET", "/v2.0/extensions")
    assert status == 200
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"provider", "multi-provider", "net-mtu", "net-mtu-writable", "project-id",
            "standard-attr-revisions", "standard-attr-timestamp", "sorting", "pagination",
            "filter-validation", "empty-string-filtering", "ip-substring-filtering"} <= aliases
    for ext in body["extensions"]:
        assert set(ext) == {"name", "alias", "description", "updated", "links"}
        assert ext["links"] == []
    assert api.request("GET", "/v2.0/extensions/provider")[1] == {"extension": {
        "name": "Provider Network", "alias": "provider", "links": [],
        "description": "Expose mapping of virtual networks to physical networks",
        "updated": "2012-09-07T10:00:00-00:00"}}
    expect_error(api.request("GET", "/v2.0/extensions/bogus"), 404, "ExtensionNotFound",
                 "Extension with alias bogus does not exist.")
    for method in ("POST", "PUT", "DELETE"):
        assert api.request(method, "/v2.0/extensions/provider")[0] == 404
    assert api.request("POST", "/v2.0/extensions")[0] == 404


# --- fuzzing: wrong types for every attribute -----------------------------------------------
WRONG: list[Any] = [[], {}, 1.5, -1, True, None, "x" * 300, "\x00", {"a": [1]}, "10.0.0.1"]


def _check(result: tuple[int, Any], what: str) -> None:
    status, body = result
    assert status < 500, (what, status, body)
    if status >= 400:
        assert set(body) == {"NeutronError"} and body["NeutronError"]["type"], (what, body)


def test_fuzz_wrong_values_never_500(server: Server, admin: Api) -> None:
    # as a project's member (policy included) and as the admin
    member = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))
    net = member.network()
    sub = member.subnet(net["id"], "10.0.0.0/24")
    prt = member.port(net["id"])
    bases = {
        "networks": ({}, net["id"], network.resource()),
        "subnets": ({"network_id": net["id"], "cidr": "10.1.0.0/24", "ip_version": 4},
                    sub["id"], subnet.resource()),
        "ports": ({"network_id": net["id"]}, prt["id"], port.resource()),
    }
    for who in (member, admin):
        for collection, (base, item_id, resource) in bases.items():
            for name, attr in resource.attrs.items():
                if not (attr.allow_post or attr.allow_put):
                    continue
                for value in WRONG:
                    if attr.allow_post:
                        result = who.post(collection, {**base, name: value})
                        _check(result, f"POST {collection} {name}={value!r}")
                        if result[0] == 201:
                            who.delete(collection, result[1][collection[:-1]]["id"])
                    if attr.allow_put and value in WRONG[:6]:
                        _check(who.put(collection, item_id, {name: value}),
                               f"PUT {collection} {name}={value!r}")
    for query in ("limit=1.5", "marker=&limit=1", "sort_key=&sort_dir=", "fields=",
                  "name=%00", "admin_state_up=", "mtu=", "fixed_ips=%3D",
                  "fixed_ips=ip_address%3D", "page_reverse=maybe&limit=2", "id=%FF",
                  "marker=%00&limit=1", "fixed_ips=ip_address%3D%00"):
        for collection in ("networks", "subnets", "ports"):
            _check(admin.request("GET", f"/v2.0/{collection}?{query}"), f"GET ?{query}")
