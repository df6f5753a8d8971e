"""The ML2 core plugin: type and mechanism driver managers plus the network, subnet and
port services, wired to one database."""

from __future__ import annotations

from oslo_config import cfg

from neutrino.core.mech.manager import MechanismManager
from neutrino.core.networks import NetworkService
from neutrino.core.ports import PortService
from neutrino.core.subnets import SubnetService
from neutrino.core.types.manager import TypeManager
from neutrino.db.engine import Database


class Ml2Plugin:
    def __init__(self, conf: cfg.ConfigOpts, db: Database,
                 mech: MechanismManager | None = None) -> None:
        self.conf = conf
        self.db = db
        self.types = TypeManager(conf)
        self.mech = mech if mech is not None else MechanismManager(conf)
        self.networks = NetworkService(conf, db, self.mech, types=self.types)
        self.subnets = SubnetService(conf, db, self.mech)
        self.ports = PortService(conf, db, self.mech)

    def start(self) -> None:
        """What a server does once at start-up: bring segment allocation tables in line
        with the configured ranges."""
        self.types.sync_allocations(self.db)
