"""/v2.0/security-groups-default-statefulness (security-groups-default-statefulness): the
``stateful`` a new security group gets when its create names none, per project or
system-wide (``project_id`` null); Neutron's resource, whose member and collection keys
are both ``security_groups_default_statefulness``."""

from __future__ import annotations

from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Extension, Resource, as_bool, bool_filter

NAME = "security_groups_default_statefulness"


def resource() -> Resource:
    r = Resource(NAME, NAME, path="security-groups-default-statefulness", null_project=True,
                 table=NAME)
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("project_id", v.string(255, nullable=True), allow_put=False, default=None,
             schema=js.nullable(js.string(255))),
        Attr("tenant_id", v.string(255, nullable=True), allow_put=False, default=None,
             schema=js.nullable(js.string(255)), column="project_id"),
        Attr("stateful", v.boolean, default=True, filter_convert=bool_filter, output=as_bool),
    )
    return r


EXTENSIONS = (
    Extension("security-groups-default-statefulness", "Security Groups Default Statefulness",
              "Allows configuring the default value of the 'stateful' attribute for new "
              "security groups, on a per-project or system-wide basis",
              "2026-04-13T00:00:00-00:00"),
)
