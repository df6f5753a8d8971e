"""address scopes (extension address-scope)."""

from __future__ import annotations

from neutrino.schema import validators as v
from neutrino.schema.base import (
    Attr,
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
        Attr("shared", v.boolean, default=False, filter_convert=bool_filter, computed=True),
        Attr("ip_version", v.int_one_of(4, 6), allow_put=False, filter_convert=int_filter),
        *standard_attrs(),
        *tag_attrs(),
    )
    return r
