"""A mechanism driver that logs every call: shows the hook sequence, wires nothing."""

from __future__ import annotations

import logging

from neutrino.core.mech.base import DriverContext, MechanismDriver

LOG = logging.getLogger(__name__)


def _hook(name: str):  # type: ignore[no-untyped-def]
    def method(self: MechanismDriver, ctx: DriverContext) -> None:
        LOG.info("%s %s id=%s", name, ctx.resource, ctx.current.get("id"))

    method.__name__ = name
    return method


class LoggerMechanismDriver(MechanismDriver):
    name = "logger"


for _action in ("create", "update", "delete"):
    for _res in ("network", "subnet", "port"):
        for _phase in ("precommit", "postcommit"):
            _n = f"{_action}_{_res}_{_phase}"
            setattr(LoggerMechanismDriver, _n, _hook(_n))
