"""The extensions neutrino implements, under Neutron's aliases: /v2.0/extensions lists
exactly these, so clients that probe for a feature find what is really there.

Each is declared once, in ``EXTENSIONS`` of the schema module of the resource or
attributes it adds (schema/network.py: provider, multi-provider, ...); an attribute names
its extension (``Attr.extension``) and ``check`` refuses a definition naming one no module
declares. Here: the behaviours of the API layer itself (sorting, pagination, filters), and
the list of modules. Adding an extension is one declarative module plus its service.
"""

from __future__ import annotations

from collections.abc import Iterable

from neutrino.schema import (
    address_group,
    address_scope,
    agent,
    agent_scheduler,
    availability_zone,
    base,
    default_security_group_rule,
    extra_dhcp_opt,
    flavor,
    floatingip,
    ip_availability,
    network,
    port,
    port_device_profile,
    port_forwarding,
    port_numa_affinity_policy,
    port_security,
    quota,
    rbac,
    router,
    security_group,
    security_group_rule,
    security_groups_default_statefulness,
    segment,  # branch segments
    subnet,
    subnetpool,
)
from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Body, Extension, Operation, Resource

# api/ itself: If-Match, sorting, pagination, validation of filters and sort keys
EXTENSIONS = (
    Extension("revision-if-match", "If-Match constraints based on revision_number",
              "Extension indicating that If-Match based on revision_number is supported.",
              "2016-12-11T00:00:00-00:00"),
    Extension("sorting", "Sorting support",
              "Extension that indicates that sorting is enabled.", "2016-06-12T00:00:00-00:00"),
    Extension("pagination", "Pagination support",
              "Extension that indicates that pagination is enabled.", "2016-06-12T00:00:00-00:00"),
    Extension("filter-validation", "Filter parameters validation",
              "Provides validation on filter parameters.", "2018-07-04T10:00:00-00:00"),
    Extension("sort-key-validation", "Sort keys validation",
              "Provides validation on sort keys.", "2018-07-04T10:00:00-00:00"),
    Extension("empty-string-filtering", "Empty String Filtering Extension",
              "Allow filtering by attributes with empty string value", "2018-05-01T10:00:00-00:00"),
)


MODULES = (base, network, port, rbac, quota, agent, extra_dhcp_opt, router, floatingip,
           security_group, port_security, security_group_rule, default_security_group_rule,
           subnetpool, address_scope, ip_availability, port_device_profile,
           port_numa_affinity_policy, agent_scheduler, availability_zone, address_group,
           security_groups_default_statefulness, flavor, port_forwarding, subnet,
           segment)  # branch segments


def registered() -> tuple[Extension, ...]:
    """Every extension the definitions declare (standard-attr-tag and its kin aside:
    api/tags.py names them once the services registered their resources)."""
    out = [*EXTENSIONS]
    for module in MODULES:
        out.extend(module.EXTENSIONS)
    aliases = [e.alias for e in out]
    if len(set(aliases)) != len(aliases):
        raise ValueError(f"an extension declared twice: {sorted(aliases)}")
    return tuple(out)


IMPLEMENTED = registered()


def check(resources: Iterable[Resource], extensions: Iterable[Extension]) -> None:
    """Every attribute's extension is one the server advertises: an attribute of an
    extension not listed would be there for clients that cannot know it."""
    known = {e.alias for e in extensions}
    for r in resources:
        for a in r.attrs.values():
            if a.extension is not None and a.extension not in known:
                raise ValueError(f"{r.name}.{a.name}: extension {a.extension!r} is "
                                 "declared by no schema module")


def resource() -> Resource:
    """An extension as /v2.0/extensions shows it."""
    r = Resource("extension", "extensions")
    ro = {"allow_post": False, "allow_put": False}
    r.add(*(Attr(name, schema=js.STRING, **ro)
            for name in ("name", "alias", "description", "updated")),
          Attr("links", schema=js.array(js.OBJECT), **ro))
    return r


def operations() -> tuple[Operation, ...]:
    """Paths relative to /v2.0/."""
    ext = resource()
    return (
        Operation("GET", "extensions", 200, "The extensions this server implements",
                  response=Body(ext, many=True)),
        Operation("GET", "extensions/{alias}", 200, "One extension, by alias",
                  response=Body(ext), params=(Attr("alias", v.string(255)),)),
    )
