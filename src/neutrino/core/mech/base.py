"""The mechanism driver seam, as ML2's: ``*_precommit`` runs inside the transaction (it
may read and write the database through ``ctx.conn``, and an exception aborts the whole
operation), ``*_postcommit`` after it (an exception undoes a create and the API answers
with an error)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino.context import Context


@dataclass(slots=True)
class DriverContext:
    resource: str  # "network", "subnet" or "port"
    current: dict[str, Any]
    original: dict[str, Any] | None
    context: Context
    conn: Connection | None = None  # set during precommit only
    segments: list[dict[str, Any]] | None = None  # the network's segments
    # what a driver keeps from its precommit for its postcommit (e.g. the hosts of a
    # network read before the delete that makes them unreadable)
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class PortBindingContext:
    """What ``bind_port`` sees: the port (binding:* included), the host asked for, the
    network's segments ({"id", "network_type", "physical_network", "segmentation_id"})
    and the agents on that host ({"agent_type", "alive", "admin_state_up",
    "configurations", ...}). A driver that can bind calls ``set_binding``."""

    port: dict[str, Any]
    host: str
    vnic_type: str
    profile: dict[str, Any]
    segments: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    # the result: the segment bound, vif_type, vif_details, and whether an L2 agent must
    # report the port wired (an "L2" provisioning block) before it is ACTIVE
    segment: dict[str, Any] | None = None
    vif_type: str | None = None
    vif_details: dict[str, Any] | None = None
    agent_based: bool = False

    def set_binding(self, segment: dict[str, Any], vif_type: str,
                    vif_details: dict[str, Any], *, agent_based: bool = True) -> None:
        self.segment, self.vif_type, self.vif_details = segment, vif_type, vif_details
        self.agent_based = agent_based

    @property
    def bound(self) -> bool:
        return self.vif_type is not None


class MechanismDriver:
    """Base class; drivers override what they care about."""

    name: str = ""
    # the type of agent an agent-based driver binds with (None: not agent-based)
    agent_type: str | None = None

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    def initialize(self) -> None:
        pass

    def create_network_precommit(self, ctx: DriverContext) -> None: ...
    def create_network_postcommit(self, ctx: DriverContext) -> None: ...
    def update_network_precommit(self, ctx: DriverContext) -> None: ...
    def update_network_postcommit(self, ctx: DriverContext) -> None: ...
    def delete_network_precommit(self, ctx: DriverContext) -> None: ...
    def delete_network_postcommit(self, ctx: DriverContext) -> None: ...
    def create_subnet_precommit(self, ctx: DriverContext) -> None: ...
    def create_subnet_postcommit(self, ctx: DriverContext) -> None: ...
    def update_subnet_precommit(self, ctx: DriverContext) -> None: ...
    def update_subnet_postcommit(self, ctx: DriverContext) -> None: ...
    def delete_subnet_precommit(self, ctx: DriverContext) -> None: ...
    def delete_subnet_postcommit(self, ctx: DriverContext) -> None: ...
    def create_port_precommit(self, ctx: DriverContext) -> None: ...
    def create_port_postcommit(self, ctx: DriverContext) -> None: ...
    def update_port_precommit(self, ctx: DriverContext) -> None: ...
    def update_port_postcommit(self, ctx: DriverContext) -> None: ...
    def delete_port_precommit(self, ctx: DriverContext) -> None: ...
    def delete_port_postcommit(self, ctx: DriverContext) -> None: ...

    def check_segment_for_agent(self, segment: dict[str, Any], agent: dict[str, Any]) -> bool:
        """Whether ``agent`` ({"agent_type", "configurations", ...}) can wire ``segment``
        with this driver (Neutron's: what decides which hosts a segment is mapped to,
        services/segments/host_mappings.py). Drivers without agents cannot."""
        return False

    def bind_port(self, ctx: PortBindingContext) -> None:
        """Bind the port if this driver can (``ctx.set_binding``); after the port's
        transaction, outside any (core/binding.py). Most drivers cannot, and do nothing."""
