"""rbac-policies: which projects may use an object of another project, and how."""

from __future__ import annotations

import uuid
from typing import Any

from neutrino.exceptions import excerpt
from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Extension, Resource, project_attrs

# Object types neutrino shares and, per type, the actions an entry may grant (in
# Neutron's order: error messages print the tuple).
OBJECT_ACTIONS: dict[str, tuple[str, ...]] = {
    "network": ("access_as_shared", "access_as_external"),
    # rbac-subnetpool, rbac-address-scope (services/subnetpools/rbac.py)
    "subnetpool": ("access_as_shared",),
    "address_scope": ("access_as_shared",),
    # rbac-security-groups (services/securitygroups/rbac.py)
    "security_group": ("access_as_shared",),
    # rbac-address-group (services/addressgroups/rbac.py)
    "address_group": ("access_as_shared",),
}
WILDCARD = "*"


def object_type(value: Any) -> str:
    """Converter: trimmed and lower-cased, one of the known object types."""
    if isinstance(value, str):
        normalized = value.strip().lower()
        if normalized in OBJECT_ACTIONS:
            return normalized
    raise v.ConversionError(f"'{excerpt(value)}' is not a valid RBAC object type")


def _uuid_like(value: str) -> bool:
    # oslo's is_uuid_like: any spelling uuid.UUID reads whose hex digits are the value's
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    digits = value.lower()
    for noise in ("urn:", "uuid:", "{", "}", "-"):
        digits = digits.replace(noise, "")
    return parsed.hex == digits


def target_tenant(value: Any) -> str:
    if isinstance(value, str) and (value == WILDCARD or _uuid_like(value)):
        return value
    raise ValueError(f"'{excerpt(value)}' is not a valid target project ID; expected a UUID or '*'")


def resource() -> Resource:
    r = Resource("rbac_policy", "rbac_policies", path="rbac-policies",
                 table="network_rbacs")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        # enforce_policy as Neutron's rbac extension declares them ("so operators can
        # define policies that restrict actions"); neutron-lib's object_type defaults
        # to null
        Attr("object_type", object_type, allow_put=False,
             schema=js.enum(*OBJECT_ACTIONS), enforce_policy=True, policy_default=None),
        Attr("object_id", v.uuid_str, allow_put=False, enforce_policy=True),
        Attr("target_tenant", target_tenant, schema=js.STRING, column="target_project",
             enforce_policy=True),
        *project_attrs(),
        Attr("action", v.string(255), allow_put=False, enforce_policy=True),
    )
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("rbac-policies", "RBAC Policies",
              "Allows creation and modification of policies that control project access to "
              "resources.", "2015-06-17T12:15:12-00:00"),
)
