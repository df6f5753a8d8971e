"""flavors and service profiles (extension flavors), service providers (service-type) and
the auto-allocated topology (auto-allocated-topology), as neutron-lib defines them."""

from __future__ import annotations

from typing import Any

from neutrino import exceptions as exc
from neutrino.exceptions.flavors import InvalidServiceType
from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import (
    Attr,
    Body,
    Extension,
    Operation,
    Resource,
    as_bool,
    bool_filter,
)

# Neutron's LONG_DESCRIPTION_FIELD_SIZE: flavors and service profiles take long texts
LONG_DESCRIPTION = 1024
# the service plugin types this server has (Neutron's directory.get_plugin(type)):
# type:service_plugin_type accepts these only
SERVICE_PLUGIN_TYPES = ("CORE", "L3_ROUTER_NAT", "FLAVORS")


def service_plugin_type(value: Any) -> str:
    """type:service_plugin_type: a plugin this server runs, else InvalidServiceType (400),
    raised as such (not as a validation message), as neutron-lib's validator does."""
    if not isinstance(value, str) or value not in SERVICE_PLUGIN_TYPES:
        raise InvalidServiceType(service_type=exc.excerpt(value))
    return value


def uuid_list(value: Any) -> list[str]:
    """type:uuid_list."""
    if not isinstance(value, list):
        raise ValueError(f"'{exc.excerpt(value)}' is not a list")
    return [v.uuid_str(i) for i in value]


def _description() -> Attr:
    return Attr("description", v.string(LONG_DESCRIPTION, nullable=True), default="")


def _enabled() -> Attr:
    return Attr("enabled", v.boolean, default=True, filter_convert=bool_filter, output=as_bool)


def flavor() -> Resource:
    r = Resource("flavor", "flavors", table="flavors")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.name_string(255), default=""),
        _description(),
        Attr("service_type", service_plugin_type, allow_put=False,
             schema=js.string(36)),
        # shown from the bindings (POST /flavors/{id}/service_profiles); accepted in a
        # body and not acted on, as Neutron's create_flavor / update_flavor do
        Attr("service_profiles", uuid_list, default=[], is_filter=False, is_sort_key=False,
             schema=js.array(js.UUID), computed=True),
        _enabled(),
    )
    r.operations = flavor_operations()
    return r


def service_profile() -> Resource:
    r = Resource("service_profile", "service_profiles", table="service_profiles")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        _description(),
        Attr("driver", v.string(LONG_DESCRIPTION), default=""),
        Attr("metainfo", v.string(4096), default="", is_filter=False),
        _enabled(),
    )
    return r


def flavor_operations() -> tuple[Operation, ...]:
    binding = Resource("service_profile", "service_profiles")
    binding.add(Attr("id", v.uuid_str))
    shown = Resource("flavor_service_profile", "flavor_service_profiles")
    shown.add(Attr("service_profile_id", v.uuid_str), Attr("flavor_id", v.uuid_str))
    provider = Resource("next_provider", "next_providers")
    provider.add(Attr("provider", schema=js.STRING), Attr("driver", schema=js.STRING))
    profile_param = (Attr("profile_id", v.uuid_str),)
    return (
        Operation("POST", "service_profiles", 201,
                  "Associate a service profile with the flavor (admin)",
                  request=Body(binding, verb="POST"), response=Body(binding)),
        Operation("GET", "service_profiles/{profile_id}", 200,
                  "The association of a service profile with the flavor",
                  response=Body(shown), params=profile_param),
        Operation("DELETE", "service_profiles/{profile_id}", 204,
                  "Disassociate a service profile from the flavor (admin)",
                  params=profile_param),
        Operation("GET", "next_providers", 200,
                  "The provider the flavor's first service profile names",
                  response=Body(provider, many=True)),
    )


def service_provider() -> Resource:
    r = Resource("service_provider", "service_providers", path="service-providers")
    ro = {"allow_post": False, "allow_put": False}
    r.add(Attr("service_type", schema=js.STRING, **ro),
          Attr("name", schema=js.STRING, **ro),
          Attr("default", filter_convert=bool_filter, schema=js.BOOLEAN, **ro))
    return r


def auto_allocated_topology() -> Resource:
    r = Resource("auto_allocated_topology", "auto_allocated_topologies",
                 path="auto-allocated-topology")
    ro = {"allow_post": False, "allow_put": False}
    # id: the project's network ("dry-run=pass" for ?fields=dry-run)
    r.add(Attr("id", schema=js.STRING, **ro),
          Attr("project_id", schema=js.STRING, **ro),
          Attr("tenant_id", schema=js.STRING, **ro))
    return r


def operations() -> tuple[Operation, ...]:
    """The top-level paths (relative to /v2.0/) of service-type and
    auto-allocated-topology, for the OpenAPI document."""
    project = (Attr("project_id", v.string(255)),)
    return (
        Operation("GET", "service-providers", 200, "The service providers (service-type)",
                  response=Body(service_provider(), many=True), query=True),
        Operation("GET", "auto-allocated-topology/{project_id}", 200,
                  "The project's auto-allocated network, made on the first call "
                  "(?fields=dry-run: check the requirements only)",
                  response=Body(auto_allocated_topology()), params=project,
                  failures=(409,)),
        Operation("DELETE", "auto-allocated-topology/{project_id}", 204,
                  "Take the project's auto-allocated topology down", params=project),
    )


EXTENSIONS = (
    Extension("flavors", "Neutron Service Flavors",
              "Flavor specification for Neutron advanced services.",
              "2015-09-17T10:00:00-00:00"),
    Extension("service-type", "Neutron Service Type Management",
              "API for retrieving service providers for Neutron advanced services",
              "2013-01-20T00:00:00-00:00"),
    Extension("l3-flavors", "Router Flavor Extension", "Flavor support for routers.",
              "2016-05-17T00:00:00-00:00"),
    Extension("auto-allocated-topology", "Auto Allocated Topology Services",
              "Auto Allocated Topology Services.", "2016-01-01T00:00:00-00:00"),
)
