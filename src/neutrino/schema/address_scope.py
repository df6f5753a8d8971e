"""address scopes (extension address-scope)."""

from __future__ import annotations

from neutrino.schema import validators as v
from neutrino.schema.base import (
    Attr,
    Extension,
    Resource,
    bool_filter,
    int_filter,
    project_attrs,
    standard_attrs,
    tag_attrs,
)


def resource() -> Resource:
    r = Resource("address_scope", "address_scopes", path="address-scopes",
                 table="address_scopes")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.string(255), default=""),
        *project_attrs(),
        # the column, or an RBAC entry for the caller (services/subnetpools/rbac.py)
        Attr("shared", v.boolean, default=False, filter_convert=bool_filter, computed=True,
             enforce_policy=True),
        Attr("ip_version", v.int_one_of(4, 6), allow_put=False, filter_convert=int_filter),
        *standard_attrs(),
        *tag_attrs(),
    )
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("address-scope", "Address scope",
              "Address scopes extension.", "2015-07-26T10:00:00-00:00"),
    Extension("rbac-address-scope", "Add address_scope type to RBAC",
              "Add address_scope type to RBAC", "2019-10-21T10:00:00-00:00"),
)
