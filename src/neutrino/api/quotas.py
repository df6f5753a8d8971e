"""/v2.0/quotas: Neutron's quota API (extensions quotas, quota_details,
quota-check-limit).

    GET    /v2.0/quotas                    projects with overrides (admin)
    GET    /v2.0/quotas/{project}          limits (own project, or admin)
    GET    /v2.0/quotas/{project}/default  the configured defaults
    GET    /v2.0/quotas/{project}/details  limit / used / reserved per resource
    PUT    /v2.0/quotas/{project}          set limits (admin); {"quota": {...}}
    DELETE /v2.0/quotas/{project}          back to the defaults (admin)
    GET    /v2.0/quotas/tenant | project   who the caller is
"""

from __future__ import annotations

from typing import Any

from neutrino import exceptions as exc
from neutrino.api.app import Request
from neutrino.context import Context
from neutrino.core.quotas import QuotaService
from neutrino.schema import validators as v
from neutrino.schema.quota import MAX_LIMIT, UNLIMITED

_check_range = v.integer(UNLIMITED, MAX_LIMIT)


def authorize(req: Request, action: str, project_id: str | None = None) -> None:
    """Who may do what with quotas, in one place, as Neutron's quota controller decides:

    - get_quota: a project reads its own quotas without any check; otherwise the
      get_quota rule, evaluated with the caller's *own* project as target (so a manager,
      ``role:manager and project_id:%(project_id)s``, passes for any project);
    - get_quota_details: its own project, otherwise a plain is_admin check (403
      AdminRequired), not policy;
    - update_quota, delete_quota: their rules (admin only by default).
    """
    ctx = req.ctx
    if action in ("get_quota", "get_quota_details") and project_id is not None \
            and project_id == ctx.project_id:
        return
    if action == "get_quota_details":
        if not ctx.is_admin:
            raise exc.AdminRequired(reason="Only admin is authorized to access quotas for "
                                    "another project")
        return
    req.policy.enforce(action, {"project_id": ctx.project_id,
                                "tenant_id": ctx.project_id})


class QuotaController:
    """The RouteHandler for ``routes["quotas"]``."""

    def __init__(self, quotas: QuotaService) -> None:
        self.quotas = quotas

    def __call__(self, req: Request, parts: list[str]) -> tuple[int, Any]:
        rest = parts[1:]
        method = req.method
        if not rest:
            if method == "GET":
                authorize(req, "get_quota")
                return 200, {"quotas": self.quotas.list()}
            if method == "POST":
                raise exc.HTTPNotImplemented(
                    "POST requests are not supported on this resource.")
            raise exc.HTTPMethodNotAllowed()
        project_id = rest[0]
        if len(rest) == 1:
            if method == "GET" and project_id in ("tenant", "project"):
                return 200, self.whoami(req.ctx, project_id)
            if method == "GET":
                authorize(req, "get_quota", project_id)
                return 200, {"quota": self.quotas.get(project_id)}
            if method == "PUT":
                return 200, self.update(req, project_id)
            if method == "DELETE":
                authorize(req, "delete_quota", project_id)
                self.quotas.delete(project_id)
                return 204, None
            raise exc.HTTPMethodNotAllowed()
        if len(rest) == 2 and rest[1] in ("default", "details"):
            if method != "GET":
                raise exc.HTTPMethodNotAllowed()
            if rest[1] == "default":
                authorize(req, "get_quota", project_id)
                return 200, {"quota": self.quotas.defaults()}
            authorize(req, "get_quota_details", project_id)
            return 200, {"quota": self.quotas.details(project_id)}
        raise exc.HTTPNotFound()

    @staticmethod
    def whoami(ctx: Context, key: str) -> dict[str, Any]:
        if not ctx.project_id:
            raise exc.QuotaMissingTenant()
        return {key: {f"{key}_id": ctx.project_id}}

    def update(self, req: Request, project_id: str) -> dict[str, Any]:
        authorize(req, "update_quota", project_id)  # before the body, as Neutron
        try:
            v.project_id(project_id)  # what a project_id column holds
        except ValueError as e:
            raise exc.HTTPBadRequest(f"Invalid input for project_id. Reason: {e}.") from None
        body = req.json()
        if not body:
            raise exc.HTTPBadRequest("Resource body required")
        if not isinstance(body, dict) or body.get("quota") is None:
            raise exc.HTTPBadRequest("Unable to find 'quota' in request body")
        item = body["quota"]
        if not isinstance(item, dict):
            raise exc.HTTPBadRequest("Object 'quota' contains invalid data")
        item = dict(item)
        # only JSON true skips the usage check ("True" does not); check_limit is what
        # happens anyway
        force = item.pop("force", None) is True
        item.pop("check_limit", None)
        known = self.quotas.resources
        unknown = [k for k in item if k not in known]
        if unknown:
            raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
        # converted and checked in the resources' order (the first error wins), then
        # compared with usage in the body's order
        values = {k: _limit(k, item[k]) for k in sorted(item, key=known.index)}
        values = {k: values[k] for k in item}
        return {"quota": self.quotas.update(project_id, values, force=force)}


def _limit(resource: str, value: Any) -> int:
    """convert_to_int, then the range [-1, 2147483647]."""
    try:
        number = v.to_int(value)
    except v.ConversionError as e:
        raise exc.InvalidInput(error_message=str(e)) from None
    try:
        return int(_check_range(number))
    except ValueError as e:
        raise exc.HTTPBadRequest(f"Invalid input for {resource}. Reason: {e}.") from None
