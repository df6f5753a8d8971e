"""The OpenAPI 3.1 document of the API, generated from the resource definitions.

Served at GET /v2.0/openapi.json (Neutron has none). Everything in it comes from what the
server really routes: the registered collections (their attributes, filters, sort keys,
whether they take bulk creates and updates), the operations each resource declares below
its items (sub-resources and member actions, schema/base.py ``Operation``), the quota and
extension routes (schema/quota.py, schema/extensions.py). Attribute values are described
by schema/jsonschema.py.

Every 4xx answer is Neutron's error body, ``{"NeutronError": {"type", "message",
"detail"}}``; which 4xx an operation may answer is documented generically (a bad body or
query 400, unknown item 404, a conflict or quota 409, If-Match 412, too large 413, not
JSON 415), since which one a request gets depends on the data.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from typing import Any, Protocol

from neutrino.schema import extensions as extensions_schema
from neutrino.schema import flavor as flavor_schema
from neutrino.schema import jsonschema as js
from neutrino.schema import quota as quota_schema
from neutrino.schema.base import MISSING, Attr, Body, Operation, Resource

Schema = dict[str, Any]

VERSION = "2.0"
ERROR_STATUSES = ("400", "401", "403", "404", "409", "412", "413", "415")
_ERROR_REF = {"$ref": "#/components/responses/Error"}
_LINKS = js.array(js.obj({"rel": js.STRING, "href": js.STRING}, ("rel", "href")))


class Routed(Protocol):
    """A registered collection (api/app.py Collection)."""
    resource: Resource
    allow_bulk: bool
    allow_update: bool


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def attr_schema(attr: Attr) -> Schema:
    schema = js.of_attr(attr) or {}
    if attr.extension is not None:  # which extension of /v2.0/extensions brings it
        schema = {**schema, "description": f"Extension: {attr.extension}"}
    return schema


class _Builder:
    def __init__(self) -> None:
        self.schemas: dict[str, Schema] = {}
        self.paths: dict[str, dict[str, Any]] = {}

    # --- component schemas -----------------------------------------------------------------
    def _component(self, name: str, schema: Schema) -> Schema:
        """A reference to ``schema`` under ``name``; the schema itself, inline, where the
        name already stands for another shape (the quota set and its details are both a
        "quota")."""
        known = self.schemas.setdefault(name, schema)
        if known != schema:
            return schema
        return {"$ref": f"#/components/schemas/{name}"}

    def shown(self, r: Resource, *, strict: bool = True) -> Schema:
        """An item as responses show it: any of its visible attributes (fields=, and the
        policy's hidden attributes, leave some out), nothing else."""
        props = {n: attr_schema(a) for n, a in r.attrs.items() if a.visible}
        return self._component(_title(r.name), js.obj(props, strict=strict))

    def accepted(self, r: Resource, verb: str, *, strict: bool = True) -> Schema:
        """What a POST (required attributes required) or a PUT may send."""
        allowed = {n: a for n, a in r.attrs.items()
                   if (a.allow_post if verb == "POST" else a.allow_put)}
        required = tuple(n for n, a in allowed.items()
                         if verb == "POST" and a.default is MISSING)
        schema = js.obj({n: attr_schema(a) for n, a in allowed.items()}, required,
                        strict=strict)
        suffix = "Create" if verb == "POST" else "Update"
        return self._component(f"{_title(r.name)}{suffix}", schema)

    def body(self, b: Body, *, request: bool) -> Schema:
        item = (self.accepted(b.resource, b.verb, strict=not b.ignore_unknown) if request
                else self.shown(b.resource, strict=not b.ignore_unknown))
        if b.bare:
            return item
        if b.many:
            return js.obj({b.resource.collection: js.array(item)}, (b.resource.collection,),
                          strict=False)
        return js.obj({b.resource.name: item}, (b.resource.name,), strict=not request)

    # --- operations ------------------------------------------------------------------------
    @staticmethod
    def _json(schema: Schema) -> dict[str, Any]:
        return {"content": {"application/json": {"schema": schema}}}

    def operation(self, path: str, method: str, op_id: str, summary: str, status: int,
                  *, tag: str, params: list[dict[str, Any]] | None = None,
                  request: Schema | None = None, response: Schema | None = None,
                  failures: tuple[int, ...] = ()) -> None:
        ok: dict[str, Any] = {"description": summary}
        if response is not None:
            ok.update(self._json(response))
        spec: dict[str, Any] = {
            "operationId": op_id,
            "summary": summary,
            "tags": [tag],
            "responses": {str(status): ok, **dict.fromkeys(ERROR_STATUSES, _ERROR_REF),
                          **{str(f): _ERROR_REF for f in failures}},
        }
        if params:
            spec["parameters"] = params
        if request is not None:
            spec["requestBody"] = {"required": True, **self._json(request)}
        self.paths.setdefault(path, {})[method.lower()] = spec


def _path_param(name: str, schema: Schema) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _fields_param(r: Resource) -> dict[str, Any]:
    return {"name": "fields", "in": "query", "style": "form", "explode": True,
            "description": "Attributes to show (repeatable)",
            "schema": js.array(js.enum(*r.visible))}


def _filter_item(attr: Attr) -> Schema:
    # a query value is text; booleans and integers are converted (InvalidInput if not)
    kind = (js.of_attr(attr) or {}).get("type")
    return {"type": kind} if kind in ("boolean", "integer") else js.STRING


def list_params(r: Resource, *, paging: bool = True) -> list[dict[str, Any]]:
    """A list's query: every filter attribute (repeated: any of the values), fields, and
    sorting and paging (sort_key/sort_dir pairs, limit, marker, page_reverse)."""
    params = [{"name": n, "in": "query", "style": "form", "explode": True,
               "schema": js.array(_filter_item(a))}
              for n, a in r.attrs.items() if a.is_filter]
    params.append(_fields_param(r))
    if paging:
        sort_keys = [n for n, a in r.attrs.items() if a.is_sort_key]
        params += [
            {"name": "sort_key", "in": "query", "style": "form", "explode": True,
             "schema": js.array(js.enum(*sort_keys))},
            {"name": "sort_dir", "in": "query", "style": "form", "explode": True,
             "description": "One per sort_key",
             "schema": js.array(js.enum("asc", "desc"))},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            {"name": "marker", "in": "query", "schema": js.UUID},
            {"name": "page_reverse", "in": "query", "schema": js.BOOLEAN},
        ]
    return params


def _collection(b: _Builder, c: Routed, member_routes: Container[str] | None) -> None:
    r = c.resource
    base = f"/v2.0/{r.url_path}"
    item_param = f"{r.name}_id"
    member = f"{base}/{{{item_param}}}"
    id_param = _path_param(item_param, attr_schema(r.attrs["id"]) if "id" in r.attrs
                           else js.STRING)
    tag = r.url_path
    shown = b.shown(r)
    listed = js.obj({r.collection: js.array(shown), f"{r.collection}_links": _LINKS},
                    (r.collection,))
    b.operation(base, "GET", f"list_{r.collection}", f"List {r.collection}", 200, tag=tag,
                params=list_params(r), response=listed)
    if any(a.allow_post for a in r.attrs.values()):
        one = js.obj({r.name: b.accepted(r, "POST")}, (r.name,))
        request = one
        response = js.obj({r.name: shown}, (r.name,))
        if c.allow_bulk:
            item = b.accepted(r, "POST")
            many = js.obj({r.collection: {"type": "array", "minItems": 1, "items": {
                "anyOf": [item, js.obj({r.name: item}, (r.name,))]}}}, (r.collection,))
            request = {"anyOf": [one, many]}
            response = {"anyOf": [response, js.obj({r.collection: js.array(shown)},
                                                   (r.collection,))]}
        b.operation(base, "POST", f"create_{r.name}", f"Create a {r.name} (or several)",
                    201, tag=tag, params=[_fields_param(r)], request=request,
                    response=response)
    wrapped = js.obj({r.name: shown}, (r.name,))
    b.operation(member, "GET", f"show_{r.name}", f"Show a {r.name}", 200, tag=tag,
                params=[id_param, _fields_param(r)], response=wrapped)
    if c.allow_update and any(a.allow_put for a in r.attrs.values()):
        b.operation(member, "PUT", f"update_{r.name}", f"Update a {r.name}", 200, tag=tag,
                    params=[id_param, _fields_param(r)],
                    request=js.obj({r.name: b.accepted(r, "PUT")}, (r.name,)),
                    response=wrapped)
    b.operation(member, "DELETE", f"delete_{r.name}", f"Delete a {r.name}", 204, tag=tag,
                params=[id_param])
    for op in r.member_operations:
        if member_routes is not None and op.route not in member_routes:
            continue
        _declared(b, op, f"{member}/{op.path}", [id_param], tag=tag, parent=r,
                  op_id=f"{r.name}_{_op_name(op)}")


def _op_name(op: Operation) -> str:
    words = [p.strip("{}") for p in op.path.split("/")]
    return "_".join([op.method.lower(), *words]).replace("-", "_")


def _declared(b: _Builder, op: Operation, path: str, params: list[dict[str, Any]], *,
              tag: str, op_id: str, parent: Resource | None = None) -> None:
    params = params + [_path_param(a.name, attr_schema(a)) for a in op.params]
    if op.query and op.response is not None:
        params += list_params(op.response.resource, paging=False)
    response = None
    if op.item and parent is not None:
        response = js.obj({parent.name: b.shown(parent)}, (parent.name,))
    elif op.response is not None:
        response = b.body(op.response, request=False)
    request = None if op.request is None else b.body(op.request, request=True)
    if op.kind == "action":  # grouped apart from the item's CRUD and sub-resources
        tag = f"{tag} actions"
    b.operation(path, op.method, op_id, op.summary, op.status, tag=tag, params=params,
                request=request, response=response, failures=op.failures)


def _documents(b: _Builder, routes: Container[str]) -> None:
    version = js.obj({"id": js.STRING, "status": js.STRING, "links": _LINKS})
    b.operation("/", "GET", "list_versions", "API versions", 200, tag="versions",
                response=js.obj({"versions": js.array(version)}, ("versions",)))
    resource = js.obj({"name": js.STRING, "collection": js.STRING, "links": _LINKS})
    b.operation("/v2.0/", "GET", "list_resources", "The collections of v2.0", 200,
                tag="versions",
                response=js.obj({"resources": js.array(resource)}, ("resources",)))
    b.operation("/v2.0/openapi.json", "GET", "show_openapi", "This document", 200,
                tag="versions", response={"type": "object"})
    for op in extensions_schema.operations():
        _declared(b, op, f"/v2.0/{op.path}", [], tag="extensions",
                  op_id=_op_name(op))
    for op in quota_schema.operations() if "quotas" in routes else ():
        _declared(b, op, f"/v2.0/{op.path}", [], tag="quotas", op_id=_op_name(op))
    # service-type, auto-allocated-topology (branch flavors)
    for op in flavor_schema.operations():
        if op.route in routes:
            _declared(b, op, f"/v2.0/{op.path}", [], tag=op.route, op_id=_op_name(op))


def document(collections: Iterable[Routed], *, routes: Container[str] = ("quotas",),
             member_routes: Container[str] | None = None, title: str = "neutrino"
             ) -> dict[str, Any]:
    """The whole document, for what the server routes: its collections, the top-level
    ``routes`` and the ``member_routes`` (None: every declared operation)."""
    b = _Builder()
    _documents(b, routes)
    for c in collections:
        _collection(b, c, member_routes)
    b.schemas["NeutronError"] = js.obj({"NeutronError": js.obj(
        {"type": js.STRING, "message": js.STRING, "detail": js.STRING},
        ("type", "message", "detail"))}, ("NeutronError",))
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{title} Networking API", "version": VERSION,
                 "description": "OpenStack Networking (Neutron) API v2.0, as this "
                                "server implements it."},
        "paths": b.paths,
        "components": {
            "schemas": b.schemas,
            "responses": {"Error": {
                "description": "A NeutronError",
                "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/NeutronError"}}}}},
        },
    }
