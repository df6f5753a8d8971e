"""/v2.0/ports/{port_id}/bindings: Neutron's binding-extended API (core/binding_extended.py).

    GET    .../bindings                  200 {"bindings": [...]} (filters: host, vif_type,
                                         vnic_type, status; fields)
    POST   .../bindings                  201 {"binding": {...}} from {"binding": {"host",
                                         "vnic_type", "profile"}}
    GET    .../bindings/{host}           200 {"binding": {...}}
    PUT    .../bindings/{host}           200 {"binding": {...}} from {"binding": {"vnic_type",
                                         "profile"}}
    PUT    .../bindings/{host}/activate  200 {"binding": {...}}, now ACTIVE
    DELETE .../bindings/{host}           204

Order of checks: the body (400), the port as the caller sees it (404), policy (403; a
read the caller may not make: an empty list, or 404 for one binding, as Neutron's
controller hides it), then the port's kind (400: compute ports only) and the bindings
themselves (404 PortBindingNotFound, 409 PortBindingAlreadyExists/AlreadyActive).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.api.app import Collection, Request, only_fields
from neutrino.core.binding_extended import PortBindingService
from neutrino.schema import port as port_schema

# The operations as schema/port.py declares them, by (method, path)
OPERATIONS = {(op.method, op.path): op for op in port_schema.binding_operations()}
BINDING = port_schema.binding()
FILTERS = tuple(n for n, a in BINDING.attrs.items() if a.is_filter)
# query parameters that are not filters (pagination and sorting: a port has few bindings,
# listed by host, so they are accepted and change nothing)
_NOT_FILTERS = ("fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir")

Targets = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _body(req: Request, method: str, path: str, host: str | None = None
          ) -> dict[str, Any]:
    """The ``binding`` of a POST or PUT body, checked as declared: host (POST: required,
    and not empty; PUT: only the binding's own, which changes nothing), vnic_type,
    profile. project_id/tenant_id are accepted and ignored (the port's project counts)."""
    spec = OPERATIONS[(method, path)].request
    assert spec is not None
    key = spec.resource.name
    body = req.json()
    item = body.get(key) if isinstance(body, dict) else None
    if isinstance(item, dict):
        body = {key: {k: v for k, v in item.items()
                      if k not in ("project_id", "tenant_id")
                      and not (k == "host" and host is not None and v == host)}}
    data = bodies.for_declared(spec, body, req.ctx)
    if method == "POST" and not data["host"]:
        raise exc.HTTPBadRequest("Failed to parse request. Required attribute 'host' not "
                                 "specified")
    return data


class PortBindingController:
    """The MemberHandler of ``member_routes["bindings"]``."""

    def __init__(self, service: PortBindingService, targets: Targets | None = None) -> None:
        self.service = service
        self.targets: Targets = targets or (lambda items: items)

    def __call__(self, req: Request, coll: Collection, port_id: str, rest: list[str]
                 ) -> tuple[int, Any]:
        if coll.resource.collection != "ports" or len(rest) > 2:
            raise exc.HTTPNotFound()
        if len(rest) == 2:
            if rest[1] != "activate":
                raise exc.HTTPNotFound()
            if req.method != "PUT":
                raise exc.HTTPMethodNotAllowed()
            host = rest[0]
            self._allowed(req, coll, port_id, "activate")
            return 200, {"binding": self.service.activate(port_id, host)}
        if not rest:
            if req.method == "GET":
                return 200, {"bindings": self._list(req, coll, port_id)}
            if req.method == "POST":
                data = _body(req, "POST", "bindings")
                self._allowed(req, coll, port_id, "create_port_binding")
                created = self.service.create(port_id, data["host"], data["vnic_type"],
                                              dict(data["profile"]))
                return 201, {"binding": created}
            raise exc.HTTPMethodNotAllowed()
        host = rest[0]
        if req.method == "GET":
            if not self._allowed(req, coll, port_id, "get_port_binding", read=True):
                raise exc.HTTPNotFound()
            return 200, {"binding": only_fields(req, self.service.get(port_id, host))}
        if req.method == "PUT":
            data = _body(req, "PUT", "bindings/{host}", host)
            self._allowed(req, coll, port_id, "update_port_binding")
            return 200, {"binding": self.service.update(port_id, host, data)}
        if req.method == "DELETE":
            if req.body.strip():
                raise exc.HTTPBadRequest("Request body is not supported in DELETE.")
            self._allowed(req, coll, port_id, "delete_port_binding")
            self.service.delete(port_id, host)
            return 204, None
        raise exc.HTTPMethodNotAllowed()

    def _allowed(self, req: Request, coll: Collection, port_id: str, rule: str, *,
                 read: bool = False) -> bool:
        """Whether policy lets the caller apply ``rule`` to a port it can see (its 404
        otherwise); a change it may not make raises PolicyNotAuthorized."""
        port = coll.service.get(req.ctx, port_id)
        target = self.targets([port])[0]
        if read:
            return req.policy.check(rule, target)
        req.policy.enforce(rule, target)
        return True

    def _list(self, req: Request, coll: Collection, port_id: str) -> list[dict[str, Any]]:
        wanted: dict[str, set[str]] = {}
        for key, value in req.params:
            if key not in _NOT_FILTERS:
                wanted.setdefault(key, set()).add(value)
        invalid = [k for k in wanted if k not in FILTERS]
        if invalid:  # Neutron's filter-validation wording: the list of them
            raise exc.HTTPBadRequest(f"{invalid} is invalid attribute for filtering")
        if not self._allowed(req, coll, port_id, "get_port_binding", read=True):
            return []
        items = [b for b in self.service.list(port_id)
                 if all(b[k] in values for k, values in wanted.items())]
        return [only_fields(req, b) for b in items]
