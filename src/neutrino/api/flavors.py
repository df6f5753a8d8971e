"""The paths of the flavors, service-type and auto-allocated-topology extensions that are
not plain collections:

- ``/v2.0/flavors/{id}/service_profiles`` (POST ``{"service_profile": {"id"}}``: associate;
  GET/DELETE ``.../{profile_id}``) and ``/v2.0/flavors/{id}/next_providers``;
- ``/v2.0/service-providers`` (GET; filters service_type, name, default, driver;
  ``get_service_provider`` per item);
- ``/v2.0/auto-allocated-topology/{project_id}`` (GET, ``?fields=dry-run``; DELETE).

Each is authorized by Neutron's rule of its name; a refused change is 404 when the
caller could not even read its target, else 403, as for collections."""

from __future__ import annotations

from typing import Any

from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.api.app import Collection, MemberHandler, Request, RouteHandler
from neutrino.policy.enforcer import RequestPolicy
from neutrino.schema import flavor as schema
from neutrino.schema.base import bool_filter
from neutrino.services.auto_allocate.topology import AutoAllocatedTopologyService
from neutrino.services.flavors.flavors import FlavorService
from neutrino.services.flavors.providers import ServiceProviders

_OPS = {(op.method, op.path): op for op in schema.flavor_operations()}


def _change(policy: RequestPolicy, action: str, read: str, target: dict[str, Any]) -> None:
    try:
        policy.enforce(action, target)
    except exc.PolicyNotAuthorized:
        if not policy.check(read, target):
            raise exc.HTTPNotFound() from None
        raise


def flavor_profiles(service: FlavorService) -> MemberHandler:
    request = _OPS[("POST", "service_profiles")].request
    assert request is not None

    def handle(req: Request, coll: Collection, flavor_id: str, rest: list[str]
               ) -> tuple[int, Any]:
        if coll.resource.name != "flavor" or len(rest) > 1:
            raise exc.HTTPNotFound()
        if not rest:
            if req.method != "POST":
                raise exc.HTTPMethodNotAllowed()
            sp_id = bodies.for_declared(request, req.json(), req.ctx)["id"]
            req.policy.enforce("create_flavor_service_profile",
                               {"flavor_id": flavor_id, "service_profile_id": sp_id})
            return 201, {"service_profile": service.associate(req.ctx, flavor_id, sp_id)}
        sp_id = rest[0]
        target = {"flavor_id": flavor_id, "service_profile_id": sp_id}
        if req.method == "GET":
            shown = service.association(req.ctx, flavor_id, sp_id)
            if not req.policy.check("get_flavor_service_profile", target):
                raise exc.HTTPNotFound()
            return 200, {"service_profile": shown}
        if req.method == "DELETE":
            _change(req.policy, "delete_flavor_service_profile",
                    "get_flavor_service_profile", target)
            service.disassociate(req.ctx, flavor_id, sp_id)
            return 204, None
        raise exc.HTTPMethodNotAllowed()

    return handle


def next_providers(service: FlavorService) -> MemberHandler:
    def handle(req: Request, coll: Collection, flavor_id: str, rest: list[str]
               ) -> tuple[int, Any]:
        if coll.resource.name != "flavor" or rest:
            raise exc.HTTPNotFound()
        if req.method != "GET":
            raise exc.HTTPMethodNotAllowed()
        if not req.policy.check("get_flavor", {"id": flavor_id}):
            raise exc.HTTPNotFound()
        return 200, {"next_providers": service.next_providers(req.ctx, flavor_id)}

    return handle


def member_routes(service: FlavorService) -> dict[str, MemberHandler]:
    return {"service_profiles": flavor_profiles(service),
            "next_providers": next_providers(service)}


_PROVIDER_FILTERS = ("service_type", "name", "driver", "default")


def service_providers(providers: ServiceProviders) -> RouteHandler:
    shown = schema.service_provider().visible

    def handle(req: Request, parts: list[str]) -> tuple[int, Any]:
        if len(parts) > 1:
            raise exc.HTTPNotFound()
        if req.method != "GET":
            raise exc.HTTPMethodNotAllowed()
        wanted: dict[str, list[Any]] = {}
        fields: list[str] = []
        for key, value in req.params:
            if key == "fields":
                fields += [f for f in value.split(",") if f]
            elif key in _PROVIDER_FILTERS:
                try:
                    wanted.setdefault(key, []).append(
                        bool_filter(value) if key == "default" else value)
                except ValueError as e:
                    raise exc.InvalidInput(error_message=str(e)) from None
            # other keys are ignored: Neutron's service type manager has no filter
            # validation (filter_validation_support = False)
        keep = [f for f in fields if f in shown] or list(shown)
        items = [{k: p[k] for k in keep} for p in providers.find(**wanted)
                 if req.policy.check("get_service_provider", p)]
        return 200, {"service_providers": items}

    return handle


def auto_allocated_topology(service: AutoAllocatedTopologyService) -> RouteHandler:
    def handle(req: Request, parts: list[str]) -> tuple[int, Any]:
        if len(parts) != 2 or not parts[1]:
            raise exc.HTTPNotFound()
        project_id = service.project_of(req.ctx, parts[1])
        target = {"project_id": project_id, "tenant_id": project_id}
        if req.method == "GET":
            if not req.policy.check("get_auto_allocated_topology", target):
                raise exc.HTTPNotFound()
            fields = [f for k, v in req.params if k == "fields" for f in v.split(",") if f]
            return 200, {"auto_allocated_topology": service.get(req.ctx, project_id, fields)}
        if req.method == "DELETE":
            _change(req.policy, "delete_auto_allocated_topology",
                    "get_auto_allocated_topology", target)
            service.delete(req.ctx, project_id)
            return 204, None
        raise exc.HTTPMethodNotAllowed()

    return handle
