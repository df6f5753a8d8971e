"""The member actions of routers: PUT /v2.0/routers/{id}/{action}, with action one of
add_router_interface, remove_router_interface (the body is the interface info itself,
``{"subnet_id"}`` or ``{"port_id"}``) and add_extraroutes, remove_extraroutes
(``{"router": {"routes": [...]}}``), each authorized by the policy rule of its name
against the router, as Neutron's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neutrino import exceptions as exc
from neutrino.api.app import Collection, MemberHandler, Request
from neutrino.schema import router as router_schema
from neutrino.services.l3.routers import RouterService

INTERFACE_ACTIONS = ("add_router_interface", "remove_router_interface")
ROUTE_ACTIONS = ("add_extraroutes", "remove_extraroutes")


def _interface_body(body: Any) -> dict[str, str]:
    if not isinstance(body, dict) or not body:
        raise exc.BadRequest(resource="router",
                             msg="Either subnet_id or port_id must be specified")
    try:
        return router_schema.interface_info(body)
    except ValueError as e:
        raise exc.BadRequest(resource="router", msg=str(e)) from None


def _routes_body(body: Any) -> list[dict[str, str]]:
    router = body.get("router") if isinstance(body, dict) else None
    if not isinstance(router, dict) or "routes" not in router:
        raise exc.HTTPBadRequest("Body must be {\"router\": {\"routes\": [...]}}")
    unknown = sorted(k for k in router if k != "routes")
    if unknown:
        raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    try:
        return router_schema.routes(router["routes"])
    except ValueError as e:
        raise exc.HTTPBadRequest(f"Invalid input for routes. Reason: {e}.") from None


def router_action(service: RouterService, action: str) -> MemberHandler:
    """The handler of one action, for member_routes."""
    run: Callable[[Request, str, Any], Any]
    if action in INTERFACE_ACTIONS:
        method = service.add_interface if action.startswith("add") else \
            service.remove_interface

        def run(req: Request, router_id: str, body: Any) -> Any:
            info = _interface_body(body) if isinstance(body, dict) and body else {}
            return method(req.ctx, router_id, info, authorize=_authorize(req))
    else:
        add = action == "add_extraroutes"

        def run(req: Request, router_id: str, body: Any) -> Any:
            routes = _routes_body(body)
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
        if req.method != "PUT":
            raise exc.HTTPMethodNotAllowed()
        return 200, run(req, router_id, req.json())

    return handle


def member_routes(service: RouterService) -> dict[str, MemberHandler]:
    return {a: router_action(service, a) for a in (*INTERFACE_ACTIONS, *ROUTE_ACTIONS)}
