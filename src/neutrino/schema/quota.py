"""quotas (extensions quotas, quota_details, quota-check-limit): a project's limit per
resource, set by admins through /v2.0/quotas/{project_id} (api/quotas.py enforces them
with core/quotas.py)."""

from __future__ import annotations

from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Body, Extension, Operation, Resource

# The resources Neutron's API shows in a quota set, in its order. Those with no counter
# yet (services neutrino does not have yet) show their limit and a usage of 0.
RESOURCES = ("network", "subnet", "subnetpool", "port", "router", "floatingip",
             "security_group", "security_group_rule", "rbac_policy")
UNLIMITED = -1
MAX_LIMIT = 2147483647  # what the limit column holds (Neutron's DB_INTEGER_MAX_VALUE)

LIMIT = {"type": "integer", "minimum": UNLIMITED, "maximum": MAX_LIMIT}


def resource() -> Resource:
    """A quota set: {"network": 100, ...}; on PUT also ``force`` (JSON true: set a limit
    below the usage) and ``check_limit`` (what happens anyway)."""
    r = Resource("quota", "quotas")
    r.add(*(Attr(name, v.integer(UNLIMITED, MAX_LIMIT), allow_post=False, default=None,
                 schema=LIMIT) for name in RESOURCES))
    r.add(Attr("force", v.boolean, allow_post=False, visible=False, schema=js.BOOLEAN),
          Attr("check_limit", v.boolean, allow_post=False, visible=False,
               schema=js.BOOLEAN))
    return r


def listed() -> Resource:
    """An entry of GET /v2.0/quotas: a project with overrides, all its limits."""
    r = resource()
    r.add(Attr("project_id", allow_post=False, allow_put=False, schema=js.STRING),
          Attr("tenant_id", allow_post=False, allow_put=False, schema=js.STRING))
    return r


def details() -> Resource:
    usage = js.obj({"limit": LIMIT, "used": js.INTEGER, "reserved": js.INTEGER},
                   ("limit", "used", "reserved"))
    r = Resource("quota", "quotas")
    r.add(*(Attr(name, allow_post=False, allow_put=False, schema=usage)
            for name in RESOURCES))
    return r


def whoami(key: str) -> Resource:
    r = Resource(key, f"{key}s")
    r.add(Attr(f"{key}_id", allow_post=False, allow_put=False, schema=js.STRING))
    return r


def operations() -> tuple[Operation, ...]:
    """Paths relative to /v2.0/."""
    quota = resource()
    one = Body(quota)
    project = Attr("project_id", v.string(255))
    return (
        Operation("GET", "quotas", 200, "Projects with quota overrides (admin)",
                  response=Body(listed(), many=True)),
        Operation("GET", "quotas/{project_id}", 200, "A project's limits", response=one,
                  params=(project,)),
        Operation("PUT", "quotas/{project_id}", 200, "Set a project's limits (admin)",
                  request=one, response=one, params=(project,)),
        Operation("DELETE", "quotas/{project_id}", 204,
                  "Reset a project's limits to the defaults (admin)", params=(project,)),
        Operation("GET", "quotas/{project_id}/default", 200, "The default limits",
                  response=one, params=(project,)),
        Operation("GET", "quotas/{project_id}/details", 200,
                  "A project's limits and usage (quota_details)",
                  response=Body(details()), params=(project,)),
        Operation("GET", "quotas/tenant", 200, "The caller's project (as tenant_id)",
                  response=Body(whoami("tenant"))),
        Operation("GET", "quotas/project", 200, "The caller's project",
                  response=Body(whoami("project"))),
    )


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("quotas", "Quota management support",
              "Expose functions for quotas management per project", "2012-07-29T10:00:00-00:00"),
    Extension("quota_details", "Quota details management support",
              "Expose functions for quotas usage statistics per project",
              "2017-02-10T10:00:00-00:00"),
    Extension("quota-check-limit", "Quota engine limit check",
              "Support for checking the resource usage before applying a new quota limit",
              "2021-09-08T16:00:00-00:00"),
    Extension("quota-check-limit-default", "Quota engine limit check by default",
              "By default, the Neutron quota engine checks the resource usage before applying a "
              "new quota limit", "2024-08-21T16:00:00-00:00"),
)
