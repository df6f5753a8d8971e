"""The WSGI application: routing, request context, generic resource controllers, views,
pagination links and Neutron's error bodies.

Deliberately small and framework-free: every request is a dict lookup for the route, a
schema-driven body check and one service call. The hot paths (list/show of ports) spend
their time in one or two SQL queries and orjson, not in layers.
"""

from __future__ import annotations

import logging
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.api import query as queries
from neutrino.context import Context
from neutrino.db.listing import ListQuery
from neutrino.schema.base import Extension, Resource

LOG = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


class CollectionService(Protocol):
    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]: ...
    def get(self, ctx: Context, id_: str) -> dict[str, Any]: ...
    def create(self, ctx: Context, data: dict[str, Any]) -> dict[str, Any]: ...
    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]: ...
    def update(self, ctx: Context, id_: str, data: dict[str, Any]) -> dict[str, Any]: ...
    def delete(self, ctx: Context, id_: str) -> None: ...


@dataclass(slots=True)
class Collection:
    resource: Resource
    service: CollectionService
    allow_bulk: bool = True


@dataclass(slots=True)
class Request:
    method: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    url_base: str  # scheme://host[:port], for links
    ctx: Context

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise exc.HTTPBadRequest("Body contains invalid data") from None


def context_from_headers(environ: dict[str, Any]) -> Context:
    """noauth: who is asking comes from X-Project-Id / X-User-Id / X-Roles; with no project
    at all the caller is the operator (admin), as Neutron's noauth does."""
    project = environ.get("HTTP_X_PROJECT_ID") or environ.get("HTTP_X_TENANT_ID")
    user = environ.get("HTTP_X_USER_ID")
    roles_h = environ.get("HTTP_X_ROLES")
    roles = tuple(r.strip().lower() for r in roles_h.split(",") if r.strip()) if roles_h else ()
    if project is None and not roles:
        return Context(user_id=user, roles=("admin",), is_admin=True)
    return Context(project_id=project, user_id=user, roles=roles, is_admin="admin" in roles)


def _viewer(resource: Resource, ctx: Context, fields: list[str] | None
            ) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What the caller may see of an item (visible attributes, admin-only ones for admins,
    ``fields`` if asked), worked out once per request rather than once per item."""
    is_admin = ctx.is_admin
    allowed = frozenset(n for n, a in resource.attrs.items()
                        if a.visible and (is_admin or not a.admin_only_read))
    if fields is None:
        # the common case, a service's dict holding only what may be shown: used as it is
        return lambda item: item if item.keys() <= allowed else {
            k: v for k, v in item.items() if k in allowed}
    keep = [k for k in fields if k in allowed]
    return lambda item: {k: item[k] for k in keep if k in item}


def _view(item: dict[str, Any], resource: Resource, ctx: Context,
          fields: list[str] | None) -> dict[str, Any]:
    return _viewer(resource, ctx, fields)(item)


class App:
    def __init__(self, collections: Iterable[Collection], extensions: Iterable[Extension],
                 *, pagination_max_limit: int = -1,
                 context_factory: Callable[[dict[str, Any]], Context] = context_from_headers
                 ) -> None:
        self.collections = {c.resource.collection: c for c in collections}
        self.extensions = {e.alias: e for e in extensions}
        self.max_limit = pagination_max_limit
        self.context_factory = context_factory

    # --- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> list[bytes]:
        status, payload = self.handle(environ)
        headers = [("x-openstack-request-id", "req-" + str(uuid.uuid4()))]
        if payload is None:
            start_response(_status_line(status), [*headers, ("Content-Length", "0")])
            return []
        data = orjson.dumps(payload)
        start_response(_status_line(status), [
            *headers,
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
        ])
        return [data]

    def handle(self, environ: dict[str, Any]) -> tuple[int, Any]:
        try:
            req = self._request(environ)
            return self.route(req)
        except exc.NeutronError as e:
            if e.status >= 500:
                LOG.error("%s: %s", e.type, e.msg)
            return e.status, {"NeutronError": {"type": e.type, "message": e.msg,
                                               "detail": ""}}
        except Exception:
            LOG.exception("unexpected error serving %s %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            e = exc.HTTPInternalServerError()
            return 500, {"NeutronError": {"type": e.type, "message": e.msg, "detail": ""}}

    def _request(self, environ: dict[str, Any]) -> Request:
        length = environ.get("CONTENT_LENGTH")
        body = environ["wsgi.input"].read(int(length)) if length else b""
        scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or (
            f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}")
        path = environ.get("PATH_INFO", "") or "/"
        # PATH_INFO is latin-1 decoded bytes by the WSGI spec
        path = path.encode("latin-1").decode("utf-8", "replace")
        return Request(
            method=environ["REQUEST_METHOD"].upper(),
            path=path,
            params=urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""),
                                          keep_blank_values=True),
            headers={},
            body=body,
            url_base=f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}",
            ctx=self.context_factory(environ),
        )

    # --- routing ---------------------------------------------------------------------------
    def route(self, req: Request) -> tuple[int, Any]:
        path = req.path
        if "\x00" in path:
            raise exc.HTTPNotFound()  # no resource has a NUL in its name or id
        if path == "/":
            return self._only(req, ("GET",), lambda: self.versions(req))
        if not path.startswith("/v2.0/"):
            raise exc.HTTPNotFound()
        parts = path[len("/v2.0/"):].split("/")
        if parts and parts[-1].endswith(".json"):
            parts[-1] = parts[-1][: -len(".json")]
        if parts == [""]:
            return self._only(req, ("GET",), lambda: self.resources(req))
        if parts[-1] == "" and len(parts) > 1:
            parts.pop()
        head = parts[0]
        if head == "extensions":
            if req.method != "GET" or len(parts) > 2:
                raise exc.HTTPNotFound()
            return 200, self.show_extension(parts[1]) if len(parts) == 2 else {
                "extensions": [self._extension(e) for e in self.extensions.values()]}
        coll = self.collections.get(head)
        if coll is None or len(parts) > 2:
            raise exc.HTTPNotFound()
        if len(parts) == 1:
            if req.method == "GET":
                return 200, self.index(req, coll)
            if req.method == "POST":
                return 201, self.create(req, coll)
            raise exc.HTTPMethodNotAllowed()
        item_id = parts[1]
        if req.method == "GET":
            return 200, self.show(req, coll, item_id)
        if req.method == "PUT":
            return 200, self.update(req, coll, item_id)
        if req.method == "DELETE":
            if req.body.strip():
                raise exc.HTTPBadRequest("Request body is not supported in DELETE.")
            coll.service.delete(req.ctx, item_id)
            return 204, None
        raise exc.HTTPMethodNotAllowed()

    @staticmethod
    def _only(req: Request, methods: tuple[str, ...], fn: Callable[[], Any]) -> tuple[int, Any]:
        if req.method not in methods:
            raise exc.HTTPMethodNotAllowed()
        return 200, fn()

    # --- documents ---------------------------------------------------------------------------
    def versions(self, req: Request) -> dict[str, Any]:
        return {"versions": [{"id": "v2.0", "status": "CURRENT",
                              "links": [{"rel": "self", "href": f"{req.url_base}/v2.0/"}]}]}

    def resources(self, req: Request) -> dict[str, Any]:
        return {"resources": [
            {"name": c.resource.name, "collection": name,
             "links": [{"rel": "self", "href": f"{req.url_base}/v2.0/{name}"}]}
            for name, c in self.collections.items()
        ]}

    @staticmethod
    def _extension(e: Extension) -> dict[str, Any]:
        return {"name": e.name, "alias": e.alias, "description": e.description,
                "updated": e.updated, "links": []}

    def show_extension(self, alias: str) -> dict[str, Any]:
        e = self.extensions.get(alias)
        if e is None:
            raise exc.ExtensionNotFound(extension_alias=alias)
        return {"extension": self._extension(e)}

    # --- collections -------------------------------------------------------------------------
    def _fields(self, req: Request) -> list[str] | None:
        fields = [f for k, v in req.params if k == "fields" for f in v.split(",") if f]
        return list(dict.fromkeys(fields)) or None

    def index(self, req: Request, coll: Collection) -> dict[str, Any]:
        r = coll.resource
        q = queries.parse(r, req.params, max_limit=self.max_limit, is_admin=req.ctx.is_admin)
        items, _ = coll.service.list(req.ctx, q)
        view = _viewer(r, req.ctx, q.fields)
        out: dict[str, Any] = {r.collection: [view(i) for i in items]}
        if q.limit is not None:
            out[f"{r.collection}_links"] = self._links(req, coll, q, items)
        return out

    def _links(self, req: Request, coll: Collection, q: ListQuery,
               items: list[dict[str, Any]]) -> list[dict[str, str]]:
        assert q.limit is not None
        base = f"{req.url_base}{req.path}"
        params = [(k, v) for k, v in req.params if k not in ("marker", "page_reverse")]
        links = []
        short = len(items) < q.limit
        if not (short and not q.page_reverse):
            extra = [("marker", items[-1]["id"])] if items else []
            links.append({"rel": "next",
                          "href": f"{base}?{urllib.parse.urlencode(params + extra)}"})
        if not (short and q.page_reverse):
            extra = [("marker", items[0]["id"])] if items else []
            extra.append(("page_reverse", "True"))
            links.append({"rel": "previous",
                          "href": f"{base}?{urllib.parse.urlencode(params + extra)}"})
        return links

    def show(self, req: Request, coll: Collection, item_id: str) -> dict[str, Any]:
        r = coll.resource
        item = coll.service.get(req.ctx, item_id)
        return {r.name: _view(item, r, req.ctx, self._fields(req))}

    def create(self, req: Request, coll: Collection) -> dict[str, Any]:
        r = coll.resource
        items, bulk = bodies.unwrap(r, req.json(), allow_bulk=coll.allow_bulk)
        data = [bodies.for_create(r, item, req.ctx) for item in items]
        fields = self._fields(req)
        if bulk:
            created = coll.service.create_bulk(req.ctx, data)
            view = _viewer(r, req.ctx, fields)
            return {r.collection: [view(c) for c in created]}
        return {r.name: _view(coll.service.create(req.ctx, data[0]), r, req.ctx, fields)}

    def update(self, req: Request, coll: Collection, item_id: str) -> dict[str, Any]:
        r = coll.resource
        items, _ = bodies.unwrap(r, req.json(), allow_bulk=False)
        try:
            data = bodies.for_update(r, items[0], req.ctx)
        except exc.PolicyNotAuthorized:
            # Neutron fetches the item before enforcing policy: what the caller cannot
            # see is a 404, not a 403 that would betray its existence.
            coll.service.get(req.ctx, item_id)
            raise
        updated = coll.service.update(req.ctx, item_id, data)
        return {r.name: _view(updated, r, req.ctx, self._fields(req))}


_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 412: "Precondition Failed",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


def _status_line(status: int) -> str:
    return f"{status} {_REASONS.get(status, 'Unknown')}"
