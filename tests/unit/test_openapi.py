"""The OpenAPI document (api/openapi.py) as the real application builds and serves it:
complete (every routed collection, member operation and route; every attribute with a
schema), precise where clients rely on it (types, enums, nullability, formats, required
keys), and true to what the server answers (real responses validate against it).
schemathesis (tests/reliability/test_openapi.py) probes the rest over HTTP."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pytest

from neutrino import config
from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.api.app import App
from neutrino.api.factory import build_app, open_database
from neutrino.context import Context
from neutrino.core.plugin import Ml2Plugin
from neutrino.db import migrate
from neutrino.schema import jsonschema as js
from neutrino.schema import router as router_schema
from neutrino.schema.base import Body


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    tmp: Path = tmp_path_factory.mktemp("openapi")
    url = f"sqlite:///{tmp / 'neutrino.sqlite'}"
    # every optional service plugin loaded: the document of all the routes there are
    plugins = "router,port_forwarding,segments"
    conf = config.make_conf(overrides={"DEFAULT": {"state_path": str(tmp),
                                                   "service_plugins": plugins},
                                       "database": {"connection": url}})
    db = open_database(conf)
    try:
        migrate.upgrade(db.engine)
        plugin = Ml2Plugin(conf, db)
        plugin.start()
        yield build_app(conf, db, plugin)
    finally:
        db.dispose()


def call(app: App, method: str, path: str, body: Any = None) -> tuple[int, str, Any]:
    path, _, qs = path.partition("?")
    data = orjson.dumps(body) if body is not None else b""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": qs,
               "SERVER_NAME": "localhost", "SERVER_PORT": "9696", "SCRIPT_NAME": "",
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
               "CONTENT_LENGTH": str(len(data)) if data else ""}
    started: list[tuple[str, list[tuple[str, str]]]] = []
    out = b"".join(app(environ, lambda s, h: started.append((s, h))))
    status, headers = started[0]
    kind = dict(headers).get("Content-Type", "")
    return int(status.split()[0]), kind, orjson.loads(out) if out else None


@pytest.fixture(scope="module")
def doc(app: App) -> dict[str, Any]:
    status, kind, body = call(app, "GET", "/v2.0/openapi.json")
    assert (status, kind) == (200, "application/json")
    return body


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its $refs inlined (the components are acyclic)."""
    if "$ref" in schema:
        return resolve(doc, doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if isinstance(value, dict):
            out[key] = resolve(doc, value) if key != "properties" else {
                k: resolve(doc, v) for k, v in value.items()}
        elif isinstance(value, list):
            out[key] = [resolve(doc, v) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
    return out


def response_schema(doc: dict[str, Any], path: str, method: str, status: int = 200
                    ) -> dict[str, Any]:
    spec = doc["paths"][path][method]["responses"][str(status)]
    if "$ref" in spec:
        spec = doc["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
    return resolve(doc, spec["content"]["application/json"]["schema"])


def assert_valid(doc: dict[str, Any], path: str, method: str, status: int, body: Any
                 ) -> None:
    schema = response_schema(doc, path, method, status)
    errors = [e.message for e in jsonschema_rs.Draft202012Validator(
        schema, validate_formats=True).iter_errors(body)]
    assert not errors, (path, method, errors, body)


def test_served_and_cached(app: App, doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    # the same document, built once; /v2.0/openapi answers too (.json is optional, as
    # for every Neutron path), and only GET is served
    assert call(app, "GET", "/v2.0/openapi")[2] == doc
    assert app.openapi_document is app.openapi_document
    assert call(app, "POST", "/v2.0/openapi.json")[0] == 405


def test_every_route_is_documented(app: App, doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    for path, coll in app.collections.items():
        member = f"/v2.0/{path}/{{{coll.resource.name}_id}}"
        assert {"get", "post"} <= set(paths[f"/v2.0/{path}"]) or path == "agents"
        assert {"get", "delete"} <= set(paths[member])
        assert ("put" in paths[member]) == coll.allow_update
        routes = {p.split("/")[4] for p in paths if p.startswith(member + "/")}
        assert routes == {op.route for op in coll.resource.member_operations}, path
        assert routes <= set(app.member_routes)
    # every member route the application serves is declared by some resource
    declared = {op.route for c in app.collections.values()
                for op in c.resource.member_operations}
    assert declared == set(app.member_routes)
    for path in ("/v2.0/ports/{port_id}/bindings/{host}/activate",
                 "/v2.0/routers/{router_id}/add_router_interface",
                 "/v2.0/routers/{router_id}/remove_extraroutes",
                 "/v2.0/networks/{network_id}/tags/{tag}",
                 "/v2.0/quotas/{project_id}/details", "/v2.0/extensions/{alias}", "/"):
        assert path in paths
    for path, ops in paths.items():
        for method, op in ops.items():
            assert op["responses"]["404"] == {"$ref": "#/components/responses/Error"}, \
                (path, method)
            assert {"400", "409", "413", "415"} <= set(op["responses"])


def test_every_attribute_has_a_schema(app: App, doc: dict[str, Any]) -> None:
    """No attribute falls back to "anything": a new validator or a read-only attribute
    without ``schema=`` shows here."""
    missing = []
    for coll in app.collections.values():
        resources = [coll.resource]
        for op in coll.resource.member_operations:
            resources += [b.resource for b in (op.request, op.response) if b is not None]
        for r in resources:
            missing += [f"{r.name}.{n}" for n, a in r.attrs.items()
                        if (a.visible or a.allow_post or a.allow_put)
                        and js.of_attr(a) is None]
    assert missing == []
    for name, schema in doc["components"]["schemas"].items():
        jsonschema_rs.Draft202012Validator(schema)  # compiles
        assert schema.get("properties") != {}, name


def test_attribute_extensions_are_served(app: App, doc: dict[str, Any]) -> None:
    """Every attribute an extension brings names one /v2.0/extensions lists."""
    used = {a.extension for c in app.collections.values()
            for a in c.resource.attrs.values() if a.extension is not None}
    assert used and used <= set(app.extensions)
    mtu = doc["components"]["schemas"]["Network"]["properties"]["mtu"]
    assert mtu["description"] == "Extension: net-mtu-writable"


def test_precise_types(doc: dict[str, Any]) -> None:
    s = doc["components"]["schemas"]
    port, net, sub = s["Port"]["properties"], s["Network"]["properties"], \
        s["Subnet"]["properties"]
    assert port["id"] == {"type": "string", "format": "uuid"}
    # null on update regenerates it (port-mac-address-regenerate)
    assert port["mac_address"]["anyOf"] == js.nullable(js.MAC)["anyOf"]
    assert port["name"] == {"type": "string", "maxLength": 255}
    assert "normal" in port["binding:vnic_type"]["enum"]
    assert port["fixed_ips"]["items"]["properties"]["ip_address"] == js.IP
    assert net["mtu"]["type"] == "integer" and net["mtu"]["minimum"] == 0
    assert net["provider:segmentation_id"]["anyOf"] == js.nullable(js.INTEGER)["anyOf"]
    assert net["created_at"]["format"] == "date-time"
    assert sub["cidr"] == js.CIDR
    assert sub["ip_version"] == {"enum": [4, 6], "type": "integer"}
    assert sub["gateway_ip"] == js.nullable(js.IP)
    assert sub["ipv6_ra_mode"]["enum"][-1] is None
    assert s["PortCreate"]["required"] == ["network_id"]
    assert "id" not in s["PortCreate"]["properties"]
    assert "network_id" not in s["PortUpdate"]["properties"]
    assert s["PortCreate"]["additionalProperties"] is False
    assert s["NeutronError"]["properties"]["NeutronError"]["required"] == \
        ["type", "message", "detail"]


def test_list_query_parameters(doc: dict[str, Any]) -> None:
    params = {p["name"]: p for p in doc["paths"]["/v2.0/ports"]["get"]["parameters"]}
    for name in ("mac_address", "fixed_ips", "tags-any", "not-tags", "device_owner",
                 "fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"):
        assert name in params
    assert "binding:profile" not in params  # not a filter
    assert params["admin_state_up"]["schema"]["items"] == {"type": "boolean"}
    assert "fixed_ips" not in params["sort_key"]["schema"]["items"]["enum"]
    assert "name" in params["sort_key"]["schema"]["items"]["enum"]
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 0}
    bindings = {p["name"] for p in
                doc["paths"]["/v2.0/ports/{port_id}/bindings"]["get"]["parameters"]}
    assert bindings == {"port_id", "host", "vif_type", "vnic_type", "status", "fields"}


def test_declared_bodies(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    create = resolve(doc, paths["/v2.0/ports/{port_id}/bindings"]["post"]["requestBody"]
                     ["content"]["application/json"]["schema"])
    assert create["required"] == ["binding"]
    assert create["properties"]["binding"]["required"] == ["host"]
    assert set(create["properties"]["binding"]["properties"]) == \
        {"host", "vnic_type", "profile"}
    interface = paths["/v2.0/routers/{router_id}/add_router_interface"]["put"]
    body = resolve(doc, interface["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["properties"]) == {"subnet_id", "port_id"}
    assert "additionalProperties" not in body  # others are ignored, as Neutron's
    routes = resolve(doc, paths["/v2.0/routers/{router_id}/add_extraroutes"]["put"]
                     ["requestBody"]["content"]["application/json"]["schema"])
    assert routes["properties"]["router"]["required"] == ["routes"]
    assert response_schema(doc, "/v2.0/routers/{router_id}/add_extraroutes", "put") == \
        response_schema(doc, "/v2.0/routers/{router_id}", "get")
    assert "500" in paths["/v2.0/ports/{port_id}/bindings"]["post"]["responses"]


def test_real_responses_conform(app: App, doc: dict[str, Any]) -> None:
    """Items with every kind of attribute, as the server shows them, validate."""
    def ok(method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, _, out = call(app, method, path, body)
        assert got == status, out
        return out

    net = ok("POST", "/v2.0/networks", {"network": {"name": "n"}}, 201)["network"]
    assert_valid(doc, "/v2.0/networks", "post", 201, {"network": net})
    sub = ok("POST", "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.1.0.0/24", "ip_version": 4,
        "host_routes": [{"destination": "10.9.0.0/16", "nexthop": "10.1.0.9"}],
        "dns_nameservers": ["10.1.0.2"]}}, 201)
    assert_valid(doc, "/v2.0/subnets", "post", 201, sub)
    port = ok("POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "device_owner": "compute:nova",
        "allowed_address_pairs": [{"ip_address": "10.1.0.0/28"}],
        "extra_dhcp_opts": [{"opt_name": "mtu", "opt_value": "1400"}]}}, 201)
    assert_valid(doc, "/v2.0/ports", "post", 201, port)
    bulk = ok("POST", "/v2.0/networks", {"networks": [{"name": "a"}, {"name": "b"}]}, 201)
    assert_valid(doc, "/v2.0/networks", "post", 201, bulk)
    router = ok("POST", "/v2.0/routers", {"router": {"name": "r"}}, 201)["router"]
    info = ok("PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
              {"subnet_id": sub["subnet"]["id"]})
    assert_valid(doc, "/v2.0/routers/{router_id}/add_router_interface", "put", 200, info)
    for path, doc_path in (("/v2.0/networks?limit=1", "/v2.0/networks"),
                           ("/v2.0/ports", "/v2.0/ports"),
                           ("/v2.0/routers", "/v2.0/routers"),
                           ("/v2.0/security-groups", "/v2.0/security-groups"),
                           ("/v2.0/security-group-rules", "/v2.0/security-group-rules"),
                           ("/v2.0/extensions", "/v2.0/extensions"),
                           ("/v2.0/quotas/admin/details",
                            "/v2.0/quotas/{project_id}/details"),
                           (f"/v2.0/ports/{port['port']['id']}/bindings",
                            "/v2.0/ports/{port_id}/bindings")):
        assert_valid(doc, doc_path, "get", 200, ok("GET", path))
    status, kind, error = call(app, "GET", f"/v2.0/networks/{router['id']}")
    assert (status, kind) == (404, "application/json")
    assert_valid(doc, "/v2.0/networks/{network_id}", "get", 404, error)


def test_declared_bodies_checked_as_collections_are() -> None:
    """api/body.py's for_declared: bare bodies keep only what may be sent when unknown
    keys are ignored; wrapped ones report what a collection's body would."""
    ctx = Context(project_id="p", is_admin=True)
    interface = next(op for op in router_schema.operations()
                     if op.route == "add_router_interface").request
    assert interface is not None
    sid = "6f1f8a02-3c9a-4c1e-9d7b-2f0e1d6a7b10"
    assert bodies.for_declared(interface, {"subnet_id": sid.upper(), "network_id": "x",
                                           "color": 1}, ctx) == {"subnet_id": sid}
    routes = Body(router_schema.extraroutes(), verb="POST")
    with pytest.raises(exc.HTTPBadRequest, match="Required attribute 'routes'"):
        bodies.for_declared(routes, {"router": {}}, ctx)
    with pytest.raises(exc.HTTPBadRequest, match="Unable to find 'router'"):
        bodies.for_declared(routes, {"routes": []}, ctx)
    with pytest.raises(exc.HTTPBadRequest, match="Invalid input for routes"):
        bodies.for_declared(routes, {"router": {"routes": [{"destination": "x"}]}}, ctx)


def test_integer_filter_beyond_any_column(app: App) -> None:
    """Found by schemathesis: a filter value beyond 64 bits was a 500 on SQLite (it cannot
    bind it). Beyond its column's range it is InvalidInput (issue 9: a 400, everywhere)."""
    huge = "-57520595485581550257438720"
    for path in (f"/v2.0/networks?revision_number={huge}", f"/v2.0/networks?mtu=9{huge[1:]}",
                 f"/v2.0/security-group-rules?port_range_min={huge}"):
        status, _, body = call(app, "GET", path)
        assert status == 400 and body["NeutronError"]["type"] == "InvalidInput", (path, body)
