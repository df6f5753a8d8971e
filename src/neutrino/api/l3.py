"""The member actions of routers: PUT /v2.0/routers/{id}/{action}, with action one of
add_router_interface, remove_router_interface (the body is the interface info itself,
``{"subnet_id"}`` or ``{"port_id"}``) and add_extraroutes, remove_extraroutes
(``{"router": {"routes": [...]}}``), each authorized by the policy rule of its name
against the router, as Neutron's. The bodies are declared with the actions
(schema/router.py) and checked by api/body.py, as collections' bodies are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.api.app import Collection, MemberHandler, Request
from neutrino.schema import router as router_schema
from neutrino.schema.base import Operation
from neutrino.services.l3.routers import RouterService

INTERFACE_ACTIONS = ("add_router_interface", "remove_router_interface")
ROUTE_ACTIONS = ("add_extraroutes", "remove_extraroutes")
OPERATIONS = {op.route: op for op in router_schema.operations()}


def _interface_info(req: Request, op: Operation, body: Any) -> dict[str, str]:
    """subnet_id and/or port_id, null ones left out; a body that is not an object, or an
    empty one, gives none, and the service's "Either subnet_id or port_id must be
    specified" answers it."""
    if not isinstance(body, dict) or not body:
        return {}
    assert op.request is not None
    data = bodies.for_declared(op.request, body, req.ctx)
    return {k: v for k, v in data.items() if v is not None}


def router_action(service: RouterService, action: str) -> MemberHandler:
    """The handler of one action, for member_routes."""
    op = OPERATIONS[action]
    assert op.request is not None
    request = op.request
    run: Callable[[Request, str, Any], Any]
    if action in INTERFACE_ACTIONS:
        method = service.add_interface if action.startswith("add") else \
            service.remove_interface

        def run(req: Request, router_id: str, body: Any) -> Any:
            info = _interface_info(req, op, body)
            return method(req.ctx, router_id, info, authorize=_authorize(req))
    else:
        add = action == "add_extraroutes"

        def run(req: Request, router_id: str, body: Any) -> Any:
            routes = bodies.for_declared(request, body, req.ctx)["routes"]
            return {"router": service.change_routes(req.ctx, router_id, routes, add=add,
                                                    authorize=_authorize(req))}

    def _authorize(req: Request) -> Callable[[dict[str, Any]], None]:
        # run by the service on the router it read in its transaction (404 first, then
        # the policy's 403, as Neutron): no read of its own
        return lambda router: req.policy.enforce(action, router)

    def handle(req: Request, coll: Collection, router_id: str, rest: list[str]
               ) -> tuple[int, Any]:
        if coll.resource.name != "router" or rest:
            raise exc.HTTPNotFound()
        if req.method != op.method:
            raise exc.HTTPMethodNotAllowed()
        return op.status, run(req, router_id, req.json())

    return handle


def member_routes(service: RouterService) -> dict[str, MemberHandler]:
    return {a: router_action(service, a) for a in (*INTERFACE_ACTIONS, *ROUTE_ACTIONS)}
