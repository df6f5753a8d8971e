"""Request bodies: checked and completed from the resource's declarative schema.

Error types follow Neutron: structural problems and failed validations are
``HTTPBadRequest``; a value that cannot be converted to the attribute's type is
``InvalidInput``; an attribute the caller may not set is ``PolicyNotAuthorized``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.schema.base import MISSING, Body, Resource
from neutrino.schema.validators import ConversionError


def unwrap(resource: Resource, body: Any, *, allow_bulk: bool) -> tuple[list[Any], bool]:
    """The item dicts of ``{"port": {...}}`` or, for a bulk create, ``{"ports": [...]}``
    (whose items may themselves be wrapped as ``{"port": {...}}``)."""
    if body is not None and not isinstance(body, dict):
        raise exc.HTTPBadRequest("Body contains invalid data")  # JSON, but not an object
    if isinstance(body, dict) and resource.collection in body and not (
            # one key for both (security_groups_default_statefulness): an object is one
            resource.collection == resource.name and isinstance(body[resource.name], dict)):
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


def _check_unknown(resource: Resource, item: dict[str, Any]) -> None:
    unknown = [k for k in item if k not in resource.attrs]
    if unknown:
        raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{exc.excerpt(', '.join(unknown))}'")


def _check_post(resource: Resource, item: dict[str, Any]) -> None:
    # fill_post_defaults' walk in attribute order: the first problem found wins
    for name, attr in resource.attrs.items():
        if attr.allow_post:
            if attr.default is MISSING and name not in item:
                raise exc.HTTPBadRequest(
                    f"Failed to parse request. Required attribute '{name}' not specified"
                )
        elif name in item:
            raise exc.HTTPBadRequest(f"Attribute '{name}' not allowed in POST")


def _check_put(resource: Resource, item: dict[str, Any]) -> None:
    for name, attr in resource.attrs.items():
        if name in item and not attr.allow_put:
            raise exc.HTTPBadRequest(f"Cannot update read-only attribute {name}")


def _convert(resource: Resource, item: dict[str, Any]) -> dict[str, Any]:
    """Converters then validators, attribute by attribute in the schema's order."""
    out = {}
    for key, attr in resource.attrs.items():
        if key not in item:
            continue
        try:
            out[key] = attr.validate(item[key])
        except ConversionError as e:
            raise exc.InvalidInput(error_message=str(e)) from None
        except ValueError as e:
            raise exc.HTTPBadRequest(f"Invalid input for {key}. Reason: {e}.") from None
    return out


# Called with the checked values and policy_attributes' answer; raises
# PolicyNotAuthorized. The API layer binds it to the policy engine and the request.
Authorize = Callable[[dict[str, Any], dict[str, list[str]]], None]


def policy_attributes(resource: Resource, data: dict[str, Any],
                      action: str) -> dict[str, list[str]]:
    """The attributes whose ``<action>_<resource>:<attr>`` rules apply, each with the
    keys whose ``...:<attr>:<key>`` rules apply too, as Neutron's _build_match_rule:
    only attributes declared enforce_policy, and only those set explicitly
    (_is_attribute_explicitly_set: on update, named in the body; on create, given a
    value other than neutron-lib's default). The keys: those of the dicts in a list
    value (``fixed_ips:ip_address``), and a dict value's declared policy_keys."""
    out: dict[str, list[str]] = {}
    for key, attr in resource.attrs.items():
        if key not in data or not attr.enforce_policy:
            continue
        value = data[key]
        if action == "create" and not attr.set_explicitly(value):
            continue
        subkeys: list[str] = []
        if isinstance(value, dict):
            subkeys.extend(k for k in attr.policy_keys if k in value)
        elif isinstance(value, list):
            # one rule per key of each item, repeats and all, as Neutron's
            for item in value:
                if isinstance(item, dict):
                    subkeys.extend(item)
        out[key] = subkeys
    return out


# Owner of what the noauth operator creates without naming a project.
OPERATOR_PROJECT = "admin"


def _reconcile_project(resource: Resource, item: dict[str, Any], ctx: Context) -> None:
    if "project_id" not in resource.attrs:
        return
    if resource.null_project and "project_id" in item and item["project_id"] is None \
            and item.get("tenant_id") is None:
        item["tenant_id"] = None  # system-wide (policy decides who may)
        return
    project = item.get("project_id")
    tenant = item.get("tenant_id")
    if project and tenant and project != tenant:
        raise exc.HTTPBadRequest("'project_id' and 'tenant_id' do not match")
    chosen = project or tenant or ctx.project_id
    if not chosen and ctx.is_admin:
        # The noauth operator (no identity headers) has no project of its own. Neutron then
        # demands tenant_id in the body, which the openstack CLI can only send after a
        # Keystone lookup (--project): so `openstack network create` could not work at
        # all. The operator's resources go to OPERATOR_PROJECT instead.
        chosen = OPERATOR_PROJECT
    if not chosen:
        raise exc.HTTPBadRequest(
            "Running without keystone AuthN requires that project_id is specified"
        )
    if chosen != ctx.project_id and not ctx.is_admin:
        raise exc.HTTPBadRequest(
            "Specifying 'project_id' other than the authenticated project in request is not "
            "allowed for the current user."
        )
    item["project_id"] = item["tenant_id"] = chosen


def for_create(resource: Resource, item: Any, ctx: Context,
               authorize: Authorize | None = None) -> dict[str, Any]:
    """Neutron's order: project, unknown keys, required / not-allowed keys, values
    (400s), then policy (403)."""
    item = dict(_check_item(resource, item))
    _reconcile_project(resource, item, ctx)
    _check_unknown(resource, item)
    _check_post(resource, item)
    data = _convert(resource, item)
    if authorize is not None:
        authorize(data, policy_attributes(resource, data, "create"))
    for name, attr in resource.attrs.items():
        if name in data or not attr.allow_post:
            continue
        default = attr.default
        data[name] = list(default) if isinstance(default, list) else default
    return data


def for_update(resource: Resource, item: Any, ctx: Context,
                authorize: Authorize | None = None) -> dict[str, Any]:
    item = _check_item(resource, item)
    _check_unknown(resource, item)
    _check_put(resource, item)
    data = _convert(resource, item)
    if authorize is not None:
        authorize(data, policy_attributes(resource, data, "update"))
    return data


def for_declared(spec: Body, body: Any, ctx: Context,
                 authorize: Authorize | None = None) -> dict[str, Any]:
    """The request body of a sub-resource or member action, as its declaration
    (schema/base.py ``Body``) says: unwrapped (unless bare), then checked as a create's
    item (``verb`` POST) or an update's, with the collections' messages."""
    r = spec.resource
    item = body if spec.bare else unwrap(r, body, allow_bulk=False)[0][0]
    if spec.ignore_unknown and isinstance(item, dict):
        writable = {n for n, a in r.attrs.items()
                    if (a.allow_post if spec.verb == "POST" else a.allow_put)}
        item = {k: v for k, v in item.items() if k in writable}
    check = for_create if spec.verb == "POST" else for_update
    return check(r, item, ctx, authorize)
