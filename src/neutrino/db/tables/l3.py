"""L3: external networks, routers, extra routes, floating IPs and their port forwardings,
L3 agent scheduling, auto-allocated topologies (services/l3/, migrations 0007, 0014, 0015)."""

from __future__ import annotations

import sqlalchemy as sa

from neutrino.db.tables.base import PROJECT, UUID, _id_and_project, _parent_key, _standard, metadata

# A network with ``router:external`` true has a row here (as Neutron's externalnetworks).
external_networks = sa.Table(
    "external_networks",
    metadata,
    _parent_key("network_id", "networks"),
    # auto-allocated-topology (migration 0015): the default external network; default_key
    # is 1 there and null elsewhere, so its unique key admits one default whatever races
    sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("default_key", sa.Integer, nullable=True, unique=True),
)

# A router's interfaces and gateway are ports with device_id = the router's id and
# device_owner network:router_interface / network:router_gateway; ``gw_port_id`` is the
# gateway's (null: no gateway).
routers = sa.Table(
    "routers",
    metadata,
    *_id_and_project(),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("admin_state_up", sa.Boolean, nullable=False),
    sa.Column("gw_port_id", UUID, sa.ForeignKey("ports.id"), nullable=True),
    sa.Column("enable_snat", sa.Boolean, nullable=False, server_default=sa.true()),
    *_standard(),
    # availability zones (migration 0013): a JSON list of zone names (null: none given)
    sa.Column("availability_zone_hints", sa.String(255), nullable=True),
    # l3-flavors (migration 0015): a flavor in use by a router is not deleted (FlavorInUse)
    sa.Column("flavor_id", UUID, sa.ForeignKey("flavors.id"), nullable=True, index=True),
)

# extraroute: a router's static routes
router_routes = sa.Table(
    "router_routes",
    metadata,
    _parent_key("router_id", "routers"),
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("nexthop", sa.String(64), primary_key=True),
)

# A floating IP holds the address of its own port on the external network
# (device_owner network:floatingip); associated, it maps to one fixed address of a port,
# through ``router_id``. One floating IP per fixed address: the unique key.
floatingips = sa.Table(
    "floatingips",
    metadata,
    *_id_and_project(),
    sa.Column("floating_ip_address", sa.String(64), nullable=False),
    sa.Column("floating_network_id", UUID, sa.ForeignKey("networks.id"), nullable=False,
              index=True),
    sa.Column("floating_port_id", UUID, sa.ForeignKey("ports.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("fixed_port_id", UUID, sa.ForeignKey("ports.id"), nullable=True, index=True),
    sa.Column("fixed_ip_address", sa.String(64), nullable=True),
    sa.Column("router_id", UUID, sa.ForeignKey("routers.id"), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    *_standard(),
    # named: the conventional name is longer than MySQL's 64 characters
    sa.UniqueConstraint("floating_network_id", "fixed_port_id", "fixed_ip_address",
                        name="uq_floatingips_fixed_address"),
)

# Which L3 agent hosts which router (one agent per router).
router_l3_agent_bindings = sa.Table(
    "router_l3_agent_bindings",
    metadata,
    _parent_key("router_id", "routers"),
    sa.Column(
        "l3_agent_id", UUID, sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
)

# auto-allocated-topology: the project's network and router (migration 0015)
auto_allocated_topologies = sa.Table(
    "auto_allocated_topologies",
    metadata,
    sa.Column("project_id", PROJECT, primary_key=True),
    sa.Column("network_id", UUID, sa.ForeignKey("networks.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("router_id", UUID, sa.ForeignKey("routers.id", ondelete="SET NULL"),
              nullable=True, index=True),
)

# A floating IP's port forwardings (floating-ip-port-forwarding): (external_port,
# protocol) once per floating IP, and one internal socket (address, port, protocol) per
# internal port, as Neutron's unique constraints; both go with their floating IP or port.
port_forwardings = sa.Table(
    "port_forwardings",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("floatingip_id", UUID, sa.ForeignKey("floatingips.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("external_port", sa.Integer, nullable=False),
    sa.Column("internal_port_id", UUID, sa.ForeignKey("ports.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("internal_ip_address", sa.String(64), nullable=False),
    sa.Column("internal_port", sa.Integer, nullable=False),
    sa.Column("protocol", sa.String(40), nullable=False),
    sa.Column("description", sa.String(1024), nullable=False, server_default=""),
    sa.UniqueConstraint("floatingip_id", "external_port", "protocol",
                        name="uq_port_forwardings_external"),
    sa.UniqueConstraint("internal_port_id", "internal_ip_address", "internal_port",
                        "protocol", name="uq_port_forwardings_internal"),
)
