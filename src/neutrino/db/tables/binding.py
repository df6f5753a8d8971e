"""Agents, port bindings (active and inactive), provisioning blocks, DHCP scheduling."""

from __future__ import annotations

import sqlalchemy as sa

from neutrino.db.tables.base import UUID, _parent_key, metadata

# --- agents, port bindings, provisioning, DHCP scheduling ------------------------------------

# One row per agent, keyed by (agent_type, host) as Neutron's: report_state upserts it.
# ``configurations`` is the agent's JSON-encoded dict; "alive" is computed from
# heartbeat_timestamp and [DEFAULT] agent_down_time, never stored.
agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("agent_type", sa.String(255), nullable=False),
    sa.Column("binary", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False, index=True),
    sa.Column("admin_state_up", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("configurations", sa.Text, nullable=False),
    sa.Column("availability_zone", sa.String(255), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("heartbeat_timestamp", sa.DateTime, nullable=False),
    sa.UniqueConstraint("agent_type", "host"),
    # agent-resources-synced (migration 0013): the outcome of the last sync to Placement,
    # as Neutron's; null while none was attempted
    sa.Column("resources_synced", sa.Boolean, nullable=True),
)

# A port's binding (binding:* attributes), one row per port. ``profile`` and
# ``vif_details`` are JSON-encoded dicts.
port_bindings = sa.Table(
    "port_bindings",
    metadata,
    _parent_key("port_id", "ports"),
    sa.Column("host", sa.String(255), nullable=False, server_default="", index=True),
    sa.Column("vnic_type", sa.String(64), nullable=False, server_default="normal"),
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("vif_type", sa.String(64), nullable=False, server_default="unbound"),
    sa.Column("vif_details", sa.Text, nullable=False),
)

# What still has to happen before a bound port is ACTIVE: "L2" (its host's L2 agent wired
# it) and "DHCP" (a DHCP agent serves its addresses), as Neutron's provisioning blocks.
provisioning_blocks = sa.Table(
    "provisioning_blocks",
    metadata,
    _parent_key("port_id", "ports"),
    sa.Column("entity", sa.String(32), primary_key=True),
)

# Which DHCP agents serve which networks ([DEFAULT] dhcp_agents_per_network of them).
network_dhcp_agent_bindings = sa.Table(
    "network_dhcp_agent_bindings",
    metadata,
    _parent_key("network_id", "networks"),
    sa.Column(
        "dhcp_agent_id", UUID, sa.ForeignKey("agents.id", ondelete="CASCADE"),
        primary_key=True, index=True,
    ),
)

# --- binding-extended (core/binding_hosts.py) and extra_dhcp_opt (core/extra_dhcp_opts.py) ---

# A port's INACTIVE bindings, one per other host (live migration: bound to its target
# host while the ACTIVE binding, the port's row in port_bindings, stays where it is). The
# primary key is what refuses a second binding for the same host under any concurrency.
port_inactive_bindings = sa.Table(
    "port_inactive_bindings",
    metadata,
    _parent_key("port_id", "ports"),
    sa.Column("host", sa.String(255), primary_key=True),
    sa.Column("vnic_type", sa.String(64), nullable=False, server_default="normal"),
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("vif_type", sa.String(64), nullable=False),
    sa.Column("vif_details", sa.Text, nullable=False),
)
