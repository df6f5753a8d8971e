"""Request bodies: checked and completed from the resource's declarative schema.

Error types follow Neutron: structural problems and failed validations are
``HTTPBadRequest``; a value that cannot be converted to the attribute's type is
``InvalidInput``; an attribute the caller may not set is ``PolicyNotAuthorized``.
"""

from __future__ import annotations

from typing import Any

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.schema.base import MISSING, Resource
from neutrino.schema.validators import ConversionError


def unwrap(resource: Resource, body: Any, *, allow_bulk: bool) -> tuple[list[Any], bool]:
    """The item dicts of ``{"port": {...}}`` or, for a bulk create, ``{"ports": [...]}``
    (whose items may themselves be wrapped as ``{"port": {...}}``)."""
    if isinstance(body, dict) and resource.collection in body:
        if not allow_bulk:
            raise exc.HTTPBadRequest("Bulk operation not supported")
        items = body[resource.collection]
        if not isinstance(items, list) or not items:
            raise exc.HTTPBadRequest("Resources required")
        return [i[resource.name] if isinstance(i, dict) and list(i) == [resource.name]
                else i for i in items], True
    if not isinstance(body, dict) or body.get(resource.name) is None:
        raise exc.HTTPBadRequest(f"Unable to find '{resource.name}' in request body")
    return [body[resource.name]], False


def _check_item(resource: Resource, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise exc.HTTPBadRequest(f"Object '{resource.name}' contains invalid data")
    return item


def _check_keys(resource: Resource, item: dict[str, Any], ctx: Context, action: str) -> None:
    unknown = [k for k in item if k not in resource.attrs]
    if unknown:
        raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    denied = []
    for key in item:
        attr = resource.attrs[key]
        if action == "create" and not attr.allow_post:
            raise exc.HTTPBadRequest(f"Attribute '{key}' not allowed in POST")
        if action == "update" and not attr.allow_put:
            raise exc.HTTPBadRequest(f"Cannot update read-only attribute {key}")
        # like Neutron's policy: only a non-default value needs the admin's right
        if attr.admin_only_write and not ctx.is_admin and item[key] != attr.default:
            denied.append(key)
    if denied:
        # oslo.policy's wording: the nested check tree of the denied rules
        rule = f"rule:{action}_{resource.name}"
        for key in denied:
            rule = f"({rule} and rule:{action}_{resource.name}:{key})"
        raise exc.PolicyNotAuthorized(f"{rule} is disallowed by policy")


def _convert(resource: Resource, item: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in item.items():
        try:
            out[key] = resource.attrs[key].validate(value)
        except ConversionError as e:
            raise exc.InvalidInput(error_message=str(e)) from None
        except ValueError as e:
            raise exc.HTTPBadRequest(f"Invalid input for {key}. Reason: {e}.") from None
    return out


def _reconcile_project(resource: Resource, item: dict[str, Any], ctx: Context) -> None:
    if "project_id" not in resource.attrs:
        return
    project = item.get("project_id")
    tenant = item.get("tenant_id")
    if project and tenant and project != tenant:
        raise exc.HTTPBadRequest("'project_id' and 'tenant_id' do not match")
    chosen = project or tenant or ctx.project_id
    if not chosen:
        raise exc.HTTPBadRequest(
            "Running without keystone AuthN requires that tenant_id is specified"
        )
    if chosen != ctx.project_id and not ctx.is_admin:
        raise exc.HTTPBadRequest(
            "Specifying 'project_id' other than the authenticated project in request is not "
            "allowed for the current user."
        )
    item["project_id"] = item["tenant_id"] = chosen


def for_create(resource: Resource, item: Any, ctx: Context) -> dict[str, Any]:
    item = _check_item(resource, item)
    _check_keys(resource, item, ctx, "create")
    data = _convert(resource, item)
    for name, attr in resource.attrs.items():
        if name in data or not attr.allow_post:
            continue
        if attr.default is MISSING:
            raise exc.HTTPBadRequest(
                f"Failed to parse request. Required attribute '{name}' not specified"
            )
        default = attr.default
        data[name] = list(default) if isinstance(default, list) else default
    _reconcile_project(resource, data, ctx)
    return data


def for_update(resource: Resource, item: Any, ctx: Context) -> dict[str, Any]:
    item = _check_item(resource, item)
    _check_keys(resource, item, ctx, "update")
    return _convert(resource, item)
