"""Loads mechanism drivers by entry point name and calls them in configured order."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

from oslo_config import cfg

from neutrino import exceptions as exc
from neutrino.core.mech.base import DriverContext, MechanismDriver

LOG = logging.getLogger(__name__)
GROUP = "neutrino.ml2.mechanism_drivers"


def load_driver_class(group: str, name: str) -> type:
    found = entry_points(group=group, name=name)
    if not found:
        raise RuntimeError(f"No driver named {name!r} in entry point group {group}")
    return next(iter(found)).load()


class MechanismManager:
    def __init__(self, conf: cfg.ConfigOpts,
                 drivers: list[MechanismDriver] | None = None) -> None:
        if drivers is None:
            drivers = []
            for name in conf.ml2.mechanism_drivers:
                cls = load_driver_class(GROUP, name)
                driver = cls(conf)
                driver.name = name
                drivers.append(driver)
        self.drivers = drivers
        for d in self.drivers:
            d.initialize()

    def call(self, method: str, ctx: DriverContext) -> None:
        """Call ``method`` on every driver; precommit stops at the first error,
        postcommit calls all and then reports the failure, as ML2 does."""
        failed = None
        for driver in self.drivers:
            try:
                getattr(driver, method)(ctx)
            except exc.NeutronError:
                if method.endswith("precommit"):
                    raise
                failed = failed or method
            except Exception:
                LOG.exception("mechanism driver %s failed in %s", driver.name, method)
                if method.endswith("precommit"):
                    raise exc.MechanismDriverError(method=method) from None
                failed = method
        if failed:
            raise exc.MechanismDriverError(method=failed)

    def agent_types(self) -> frozenset[str]:
        """The agent types the loaded drivers bind with."""
        return frozenset(d.agent_type for d in self.drivers if d.agent_type)

    def check_segment_for_agent(self, segment: dict[str, Any], agent: dict[str, Any]) -> bool:
        """Whether some driver can wire ``segment`` through ``agent`` (ML2's)."""
        return any(d.check_segment_for_agent(segment, agent) for d in self.drivers)
