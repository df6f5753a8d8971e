"""Service providers (extension service-type, GET /v2.0/service-providers): Neutron's
``[service_providers] service_provider`` entries, ``<service_type>:<name>:<driver>[:default]``,
plus the L3 provider this server has built in.

Neutron's L3 plugin always adds its own providers (single_node, ha, dvr, dvrha); neutrino
routers are legacy ones only (no HA or DVR data plane yet), so only ``single_node`` is
added, under Neutron's driver path so that a service profile written for Neutron (and
tempest's router flavor test) names the same driver. A provider the operator defines with
the same name wins, as in Neutron. The option is config.py's ``service_provider_opts``."""

from __future__ import annotations

import contextlib
from typing import Any

from oslo_config import cfg

from neutrino.exceptions.flavors import InvalidProviderConfig

L3 = "L3_ROUTER_NAT"
SINGLE_NODE_DRIVER = "neutron.services.l3_router.service_providers.single_node.SingleNodeDriver"
NAME_MAX = 255


def parse(entries: list[str]) -> list[dict[str, Any]]:
    """The configured providers, checked as Neutron's ProviderConfiguration does (one
    driver per provider, one default per service type, one provider per type and name);
    a bad entry stops the server at start-up with the reason."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        parts = entry.split(":")
        if len(parts) < 3:
            raise InvalidProviderConfig(reason="Invalid service provider format")
        svc_type, name, driver = parts[:3]
        if len(name) > NAME_MAX:
            raise InvalidProviderConfig(
                reason=f"Provider name {name} is limited by {NAME_MAX} characters")
        default = False
        if len(parts) == 4 and parts[3]:
            if parts[3] != "default":
                raise InvalidProviderConfig(
                    reason="Invalid provider format. Last part should be 'default' or "
                           f"empty: {entry}")
            default = True
        _add(out, {"service_type": svc_type, "name": name.lower(), "driver": driver,
                   "default": default})
    return out


def _add(providers: list[dict[str, Any]], new: dict[str, Any]) -> None:
    for p in providers:
        if p["driver"] == new["driver"]:
            raise InvalidProviderConfig(
                reason=f"Driver {new['driver']} is not unique across providers")
        if p["service_type"] == new["service_type"] and p["default"] and new["default"]:
            raise InvalidProviderConfig(
                reason=f"Multiple default providers for service {new['service_type']}")
        if (p["service_type"], p["name"]) == (new["service_type"], new["name"]):
            raise InvalidProviderConfig(
                reason=f"Multiple providers specified for service {new['service_type']}")
    providers.append(new)


class ServiceProviders:
    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.providers = parse(list(conf.service_providers.service_provider))
        # the operator's own definition of it stands, as Neutron's
        with contextlib.suppress(InvalidProviderConfig):
            _add(self.providers, {"service_type": L3, "name": "single_node",
                                  "driver": SINGLE_NODE_DRIVER, "default": False})

    def find(self, **wanted: Any) -> list[dict[str, Any]]:
        """Providers whose attributes are among the wanted values ({attr: [values]})."""
        return [p for p in self.providers
                if all(p[k] in values for k, values in wanted.items())]
