"""security groups (extensions security-group, stateful-security-group)."""

from __future__ import annotations

from typing import Any

from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import (
    AUTO,
    Attr,
    Extension,
    Resource,
    as_bool,
    bool_filter,
    project_attrs,
    standard_attrs,
    tag_attrs,
)

DEFAULT_NAME = "default"


def name_not_default(value: Any) -> str:
    """type:name_not_default: a string, and never "default" (in any case), which names
    the group the service creates per project."""
    from neutrino.exceptions.security_groups import SecurityGroupDefaultAlreadyExists

    value = v.string(255)(value)
    if value.lower() == DEFAULT_NAME:
        raise SecurityGroupDefaultAlreadyExists()
    return value


def resource() -> Resource:
    r = Resource("security_group", "security_groups", path="security-groups",
                 table="security_groups")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", name_not_default, default="", schema=js.string(255)),
        # not given: the project's default (security-groups-default-statefulness), true
        # unless a setting says otherwise
        Attr("stateful", v.boolean, default=AUTO, filter_convert=bool_filter,
             extension="stateful-security-group", schema=js.BOOLEAN,
             output=as_bool),
        # rbac-security-groups / security-groups-shared-filtering: shared with the
        # caller's project (or everyone) by an RBAC entry; read-only, a filter
        Attr("shared", allow_post=False, allow_put=False, filter_convert=bool_filter,
             is_sort_key=False, schema=js.BOOLEAN, extension="security-groups-shared-filtering",
             computed=True, enforce_policy=True),
        *project_attrs(),
        # each as GET /v2.0/security-group-rules/{id} shows it
        Attr("security_group_rules", allow_post=False, allow_put=False, is_filter=False,
             is_sort_key=False, schema=js.array(js.OBJECT), computed=True),
        *standard_attrs(),
        *tag_attrs(),
    )
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("security-group", "security-group",
              "The security groups extension.", "2012-10-05T10:00:00-00:00"),
    Extension("stateful-security-group", "Stateful security group",
              "Indicates if the security group is stateful or not", "2019-11-26T09:00:00-00:00"),
    Extension("rbac-security-groups", "Add security_group type to network RBAC",
              "Add security_group type to network RBAC", "2019-04-19T00:00:00-00:00"),
    Extension("security-groups-shared-filtering", "Security group filtering on the shared field",
              "Support filtering security groups on the shared field", "2021-04-09T00:00:00-00:00"),
)
