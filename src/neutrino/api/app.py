"""The WSGI application: routing, request context, generic resource controllers and
pagination links (what a caller is shown: api/view.py; JSON, streamed lists and error
bodies: api/responses.py).

Deliberately small and framework-free: every request is a dict lookup for the route, a
schema-driven body check and one service call. The hot paths (list/show of ports) spend
their time in one or two SQL queries and orjson, not in layers.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.api import openapi
from neutrino.api import query as queries
from neutrino.api.auth import noauth_context
from neutrino.api.responses import Streamed, dumps, error_body, status_line
from neutrino.api.view import View
from neutrino.context import Context
from neutrino.db.listing import ListQuery
from neutrino.policy import Policy
from neutrino.policy.enforcer import RequestPolicy
from neutrino.policy.ownership import check_network_ownership
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
    # False: items are never changed (PUT is 405, e.g. security group rules)
    allow_update: bool = True


# A body of JSON ``null`` (where None means no body): what Neutron answers to a POST of
# dhcp-networks or l3-routers, whose controller returns nothing (api/agent_scheduler.py).
JSON_NULL: Any = type("JsonNull", (), {"__repr__": lambda self: "null"})()


# A controller for a path that is not a plain collection (e.g. /v2.0/quotas/...): gets the
# request and the path segments after /v2.0/, returns (status, body or None).
RouteHandler = Callable[["Request", list[str]], tuple[int, Any]]
# A sub-resource of any item (e.g. /v2.0/ports/{id}/tags[/{tag}]): gets the request, the
# parent collection, the parent id and the segments after the sub-resource name.
MemberHandler = Callable[["Request", Collection, str, list[str]], tuple[int, Any]]


@dataclass(slots=True)
class Request:
    method: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    url_base: str  # scheme://host[:port], for links
    ctx: Context
    policy: RequestPolicy
    # the last single item whose policy target was resolved, and that target: a show
    # judges the item and then its attributes on the same target (one read, not two)
    last_target: tuple[dict[str, Any], dict[str, Any]] | None = None

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise exc.HTTPBadRequest("Body contains invalid data") from None


# Adds what policy rules read but a resource's own dict lacks (the owner of its network:
# ``network:project_id``), for many items with one query; run in the caller's
# transaction when given a connection (``conn=``), else in one of its own.
TargetResolver = Callable[..., list[dict[str, Any]]]


# Raises the NotFound of a parent a create's item names that the caller may not see:
# (ctx, resource name, item, connection or None) -> None (api/parents.py).
ParentCheck = Callable[..., None]


# Sends an OpenStack notification: (event_type, payload, request context); never raises.
Notify = Callable[[str, dict[str, Any], Context], None]


# Items per page of a streamed list (App._streamed): the server holds at most this many
# items of a list at a time, whatever the size of the answer.
STREAM_CHUNK = 1000


def requested_fields(req: Request) -> list[str] | None:
    """?fields=a,b&fields=c, each once, in order; None for all."""
    fields = [f for k, v in req.params if k == "fields" for f in v.split(",") if f]
    return list(dict.fromkeys(fields)) or None


def only_fields(req: Request, item: dict[str, Any]) -> dict[str, Any]:
    """An item of a sub-resource shown without a View: the ?fields= of it, else all."""
    fields = requested_fields(req)
    return item if fields is None else {k: item[k] for k in fields if k in item}


def links(req: Request, limit: int, reverse: bool, items: list[dict[str, Any]],
          more: bool = False) -> list[dict[str, str]]:
    """Neutron's pagination links of a page: ``next`` unless it is the last page going
    forward, ``previous`` unless it is the first going back."""
    base = f"{req.url_base}{req.path}"
    params = [(k, v) for k, v in req.params if k not in ("marker", "page_reverse")]
    out = []
    short = len(items) < limit and not more
    if not (short and not reverse):
        extra = [("marker", items[-1]["id"])] if items else []
        out.append({"rel": "next", "href": f"{base}?{urllib.parse.urlencode(params + extra)}"})
    if not (short and reverse):
        extra = [("marker", items[0]["id"])] if items else []
        extra.append(("page_reverse", "True"))
        out.append({"rel": "previous",
                    "href": f"{base}?{urllib.parse.urlencode(params + extra)}"})
    return out


def _no_targets(items: list[dict[str, Any]], conn: Any = None) -> list[dict[str, Any]]:
    return items


class App:
    def __init__(self, collections: Iterable[Collection], extensions: Iterable[Extension],
                 *, pagination_max_limit: int = -1,
                 policy: Policy,
                 context_factory: Callable[[dict[str, Any]], Context] = noauth_context,
                 routes: dict[str, RouteHandler] | None = None,
                 member_routes: dict[str, MemberHandler] | None = None,
                 targets: TargetResolver = _no_targets,
                 notify: Notify | None = None,
                 parents: ParentCheck | None = None,
                 ) -> None:
        self.policy = policy
        self.parents = parents
        self.notify = notify
        self.targets = targets
        self.routes = dict(routes or {})
        self.member_routes = dict(member_routes or {})
        self.collections = {c.resource.url_path: c for c in collections}
        self.extensions = {e.alias: e for e in extensions}
        self.max_limit = pagination_max_limit
        self.context_factory = context_factory

    # --- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        status, payload = self.handle(environ)
        headers = [("x-openstack-request-id", "req-" + str(uuid.uuid4()))]
        if payload is None:
            start_response(status_line(status), [*headers, ("Content-Length", "0")])
            return []
        if isinstance(payload, Streamed):
            # no Content-Length: the server sends it chunked (HTTP/1.1) as it comes
            start_response(status_line(status), [
                *headers, ("Content-Type", "application/json")])
            return payload
        data = b"null" if payload is JSON_NULL else dumps(payload)
        start_response(status_line(status), [
            *headers,
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
        ])
        # a response to HEAD has no body (sent anyway, it would be read by the client as
        # the start of the next response on the connection)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [data]

    def handle(self, environ: dict[str, Any]) -> tuple[int, Any]:
        try:
            req = self._request(environ)
            return self.route(req)
        except exc.NeutronError as e:
            if e.status >= 500:
                LOG.error("%s: %s", e.type, e.msg)
            return e.status, error_body(e)
        except Exception:
            LOG.exception("unexpected error serving %s %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            return 500, error_body(exc.HTTPInternalServerError())

    def _request(self, environ: dict[str, Any]) -> Request:
        length = environ.get("CONTENT_LENGTH")
        body = environ["wsgi.input"].read(int(length)) if length else b""
        scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or (
            f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}")
        path = environ.get("PATH_INFO", "") or "/"
        # PATH_INFO is latin-1 decoded bytes by the WSGI spec
        path = path.encode("latin-1").decode("utf-8", "replace")
        # is_admin, is_advsvc, is_service_role: the policy's verdict on these credentials
        ctx = self.policy.judge(self.context_factory(environ))
        if_match = environ.get("HTTP_IF_MATCH")
        if if_match:
            revision = queries.if_match_revision(if_match)
            if revision is not None:
                ctx = dataclasses.replace(ctx, if_match_revision=revision)
        return Request(
            method=environ["REQUEST_METHOD"].upper(),
            path=path,
            params=urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""),
                                          keep_blank_values=True),
            headers={},
            body=body,
            url_base=f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}",
            ctx=ctx,
            policy=self.policy.for_request(ctx),
        )

    # --- routing ---------------------------------------------------------------------------
    def _collection_name(self, head: str) -> str:
        """Neutron finds a collection by its name with dashes first, then with
        underscores, whichever the URL has (/v2.0/floatingip-pools and
        /v2.0/floatingip_pools, /v2.0/address_scopes and /v2.0/address-scopes)."""
        for name in (head.replace("_", "-"), head.replace("-", "_")):
            if name in self.routes or name in self.collections:
                return name
        return head

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
        head = parts[0] = self._collection_name(head)
        if head in self.routes:
            return self.routes[head](req, parts)
        if parts == ["openapi"]:  # /v2.0/openapi.json
            return self._only(req, ("GET",), lambda: self.openapi_document)
        coll = self.collections.get(head)
        if coll is not None and len(parts) > 2 and parts[2] in self.member_routes:
            return self.member_routes[parts[2]](req, coll, parts[1], parts[3:])
        if coll is None or len(parts) > 2:
            raise exc.HTTPNotFound()
        if len(parts) == 1:
            if req.method == "GET":
                return 200, self.index(req, coll)
            if req.method == "POST":
                return 201, self._notified(req, coll, "create", None,
                                           lambda: self.create(req, coll))
            raise exc.HTTPMethodNotAllowed()
        item_id = parts[1]
        if req.method == "GET":
            return 200, self.show(req, coll, item_id)
        if req.method == "PUT":
            if not coll.allow_update:
                raise exc.HTTPMethodNotAllowed()
            return 200, self._notified(req, coll, "update", item_id,
                                       lambda: self.update(req, coll, item_id))
        if req.method == "DELETE":
            if req.body.strip():
                raise exc.HTTPBadRequest("Request body is not supported in DELETE.")

            def delete() -> None:
                self._authorize_change(req, coll, "delete",
                                       coll.service.get(req.ctx, item_id), [])
                coll.service.delete(req.ctx, item_id)

            return 204, self._notified(req, coll, "delete", item_id, delete)
        raise exc.HTTPMethodNotAllowed()

    def _notified(self, req: Request, coll: Collection, action: str, item_id: str | None,
                  fn: Callable[[], Any]) -> Any:
        """``fn`` between the ``<resource>.<action>.start`` and ``.end`` notifications,
        with Neutron's payloads: the request body (plus the id of an updated item) to
        start, the response body to end; ``{"<resource>_id": id}`` for a delete. A request
        that fails gets no end notification (as Neutron's)."""
        if self.notify is None:
            return fn()
        name = coll.resource.name
        if action == "delete":
            start: dict[str, Any] = {f"{name}_id": item_id}
        else:
            try:
                body = req.json()
            except exc.NeutronError:
                return fn()  # fails the same way, before anything happened
            start = dict(body) if isinstance(body, dict) else {}
            if action == "update":
                start["id"] = item_id
        self.notify(f"{name}.{action}.start", start, req.ctx)
        result = fn()
        end = {f"{name}_id": item_id} if action == "delete" else result
        self.notify(f"{name}.{action}.end", end, req.ctx)
        return result

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

    @functools.cached_property
    def openapi_document(self) -> dict[str, Any]:
        return openapi.document(self.collections.values(), routes=self.routes,
                                member_routes=self.member_routes)

    # --- collections -------------------------------------------------------------------------
    def _view(self, req: Request, coll: Collection, fields: list[str] | None,
              sample: dict[str, Any] | None) -> View:
        return View(coll.resource, req.policy, fields, sample,
                     lambda item: self._targets(req, [item])[0])

    def _targets(self, req: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(items) == 1 and req.last_target is not None and req.last_target[0] is items[0]:
            return [req.last_target[1]]
        out = self.targets(items)
        if len(items) == 1:
            req.last_target = (items[0], out[0])
        return out

    def _readable(self, req: Request, coll: Collection, items: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
        """The items the caller's ``get_<resource>`` rule lets it read (the database query
        already scoped them; this honours any rule an operator wrote)."""
        rule = f"get_{coll.resource.name}"
        pol = req.policy
        # What the target resolver adds (the network's owner: a query) is asked for only
        # for the items the rule does not allow as they are (a member's own ports: none).
        verdicts = pol.judge_many_as_is(rule, items)
        if all(verdicts):
            return items
        pending = [i for i, v in zip(items, verdicts, strict=True) if v is None]
        check = pol.check
        allowed = {id(i) for i, t in zip(pending, self._targets(req, pending) if pending else [],
                                         strict=True) if check(rule, t)}
        return [i for i, v in zip(items, verdicts, strict=True) if v or id(i) in allowed]

    def index(self, req: Request, coll: Collection) -> dict[str, Any] | Streamed:
        r = coll.resource
        q = queries.parse(r, req.params, max_limit=self.max_limit, is_admin=req.ctx.is_admin)
        # perf2: what the policy never shows this caller is not computed (ListQuery.hidden)
        q.hidden = req.policy.hidden(r.name, r.attrs)
        if q.limit is None and req.method == "GET":
            return self._streamed(req, coll, q)
        items = self._page(req, coll, q)
        view = self._view(req, coll, q.fields, items[0] if items else None)
        out: dict[str, Any] = {r.collection: [view(i) for i in items]}
        if q.limit is not None:
            out[f"{r.collection}_links"] = links(req, q.limit, q.page_reverse, items)
        return out

    def _streamed(self, req: Request, coll: Collection, q: ListQuery) -> Streamed:
        """A whole collection (no ``limit``), read and sent in pages of STREAM_CHUNK
        items (keyset pages, in id order unless sorted otherwise), so that the server's
        memory does not grow with the answer. The first page is read before the status
        is sent: a bad filter or sort key is still a 400."""
        r = coll.resource
        chunk_q = dataclasses.replace(q, limit=STREAM_CHUNK, marker=None, page_reverse=False)
        first, more = coll.service.list(req.ctx, chunk_q)
        return Streamed(self._stream_pages(req, coll, chunk_q, first, more),
                        r.collection)

    def _stream_pages(self, req: Request, coll: Collection, q: ListQuery,
                      items: list[dict[str, Any]], more: bool
                      ) -> Iterator[list[dict[str, Any]]]:
        view: View | None = None
        while True:
            readable = self._readable(req, coll, items)
            if readable:
                if view is None:  # worked out on the first item the caller may read
                    view = self._view(req, coll, q.fields, readable[0])
                yield view.many(readable)
            if not more or not items:
                return
            marker = items[-1]["id"]
            items, more = coll.service.list(req.ctx, dataclasses.replace(q, marker=marker))
            if items and items[-1]["id"] == marker:
                # a service that does not page: never loop on the same page
                raise RuntimeError(f"{coll.resource.collection}: marker not honoured")

    def _page(self, req: Request, coll: Collection, q: ListQuery) -> list[dict[str, Any]]:
        """The readable items of one page. A page the policy thinned (the database
        query scopes rows as the default rules do; an operator's rule may read less) is
        filled from the rows after it, so that a page is short only at the end and the
        ``next`` link is not lost."""
        items, more = coll.service.list(req.ctx, q)
        readable = self._readable(req, coll, items)
        if q.limit is None or len(readable) == len(items):
            return readable
        while more and items and len(readable) < q.limit:
            # rows come back in display order; the page continues from its far end
            marker = items[0]["id"] if q.page_reverse else items[-1]["id"]
            items, more = coll.service.list(req.ctx, dataclasses.replace(q, marker=marker))
            got = self._readable(req, coll, items)
            readable = got + readable if q.page_reverse else readable + got
        return readable[-q.limit:] if q.page_reverse else readable[:q.limit]

    def _get_readable(self, req: Request, coll: Collection, item_id: str) -> dict[str, Any]:
        item = coll.service.get(req.ctx, item_id)
        if not self._readable(req, coll, [item]):
            raise exc.HTTPNotFound()
        return item

    def show(self, req: Request, coll: Collection, item_id: str) -> dict[str, Any]:
        r = coll.resource
        item = self._get_readable(req, coll, item_id)
        return {r.name: self._view(req, coll, requested_fields(req), item)(item)}

    def _authorize_change(self, req: Request, coll: Collection, verb: str,
                          target: dict[str, Any], attributes: dict[str, list[str]],
                          conn: Any = None, original: dict[str, Any] | None = None) -> None:
        """Neutron's rule for changes: refused to a caller who cannot even read the item
        (as it is, ``original`` for an update) with 404 (its existence stays hidden), to
        one who can with 403."""
        action = f"{verb}_{coll.resource.name}"
        try:
            full = (self.targets([target]) if conn is None
                    else self.targets([target], conn=conn))[0]
        except exc.NotFound:
            if verb != "create":
                raise
            # Creating under a parent that does not exist: nothing to authorize; the
            # service answers (its quota check first, then the parent's NotFound), as
            # Neutron's quota hook runs before its policy hook.
            return
        if verb == "create":
            check_network_ownership(req.ctx, coll.resource.name, full)
        try:
            req.policy.enforce(action, full, attributes)
        except exc.PolicyNotAuthorized:
            if original is None:
                seen = full
            else:
                # as Neutron's, whose item for this check carries only the attributes it
                # shows: a hidden one stored on the item (an address group's ``shared``)
                # opens nothing; what the policy target derives from the parent (a
                # subnet's ``shared``, its network's) is derived again from the rest
                if verb == "update":
                    original = {k: v for k, v in original.items()
                                if k not in coll.resource.attrs
                                or coll.resource.attrs[k].visible}
                seen = self.targets([original])[0]
            if verb != "create" and not req.policy.check(f"get_{coll.resource.name}", seen):
                raise exc.HTTPNotFound() from None
            if verb == "create" and self.parents is not None:
                # a parent the caller may not see: its 404, as for no parent at all
                self.parents(req.ctx, coll.resource.name, target, conn)
            raise

    def create(self, req: Request, coll: Collection) -> dict[str, Any]:
        r = coll.resource
        items, bulk = bodies.unwrap(r, req.json(), allow_bulk=coll.allow_bulk)
        if not bulk and getattr(coll.service, "authorizes_in_transaction", False):
            item = self._create_authorized_in_transaction(req, coll, items[0])
            return {r.name: self._view(req, coll, requested_fields(req), item)(item)}

        def authorize(data: dict[str, Any], attributes: dict[str, list[str]]) -> None:
            self._authorize_change(req, coll, "create", data, attributes)

        data = [bodies.for_create(r, item, req.ctx, authorize) for item in items]
        fields = requested_fields(req)
        if bulk:
            created = coll.service.create_bulk(req.ctx, data)
            view = self._view(req, coll, fields, created[0] if created else None)
            return {r.collection: [view(c) for c in created]}
        item = coll.service.create(req.ctx, data[0])
        return {r.name: self._view(req, coll, fields, item)(item)}

    def _create_authorized_in_transaction(self, req: Request, coll: Collection,
                                          item: Any) -> dict[str, Any]:
        """One item, authorized by the service inside its write transaction (the policy
        target read then costs no transaction of its own). The same checks in the same
        order as create()'s: the body's 400s first, then the policy, then the service."""
        pending: list[tuple[dict[str, Any], dict[str, list[str]]]] = []

        def record(data: dict[str, Any], attributes: dict[str, list[str]]) -> None:
            pending.append((dict(data), attributes))  # as it is before defaults

        data = bodies.for_create(coll.resource, item, req.ctx, record)

        def authorize(conn: Any) -> None:
            for target, attributes in pending:
                self._authorize_change(req, coll, "create", target, attributes, conn)

        return coll.service.create(req.ctx, data,  # type: ignore[call-arg]
                                   authorize=authorize)

    def update(self, req: Request, coll: Collection, item_id: str) -> dict[str, Any]:
        r = coll.resource
        items, _ = bodies.unwrap(r, req.json(), allow_bulk=False)
        # branch pools: the body's 400s (a read-only attribute, a bad value) before the
        # item's 404, as Neutron's BodyValidationHook runs before its PolicyHook reads
        # the item; then 404 before any 403
        data = bodies.for_update(r, items[0], req.ctx)
        current = coll.service.get(req.ctx, item_id)
        self._authorize_change(req, coll, "update", {**current, **data},
                               bodies.policy_attributes(r, data, "update"), original=current)
        updated = coll.service.update(req.ctx, item_id, data)
        return {r.name: self._view(req, coll, requested_fields(req), updated)(updated)}




