"""Tables, as SQLAlchemy Core metadata.

Standard attributes (description, timestamps, revision_number) live inline in each
resource's row: one row per resource, no join on every read. Uniqueness that must hold
across API processes and servers is a database constraint, never a Python lock:
IP allocations (subnet_id, ip_address), MACs (network_id, mac_address), segment
allocation rows.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UUID = sa.String(36)
PROJECT = sa.String(255)


def _standard() -> list[sa.Column]:
    return [
        sa.Column("description", sa.String(255), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("revision_number", sa.BigInteger, nullable=False, server_default="0"),
    ]


networks = sa.Table(
    "networks",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("project_id", PROJECT, nullable=True, index=True),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("admin_state_up", sa.Boolean, nullable=False),
    sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("mtu", sa.Integer, nullable=False),
    *_standard(),
)

network_segments = sa.Table(
    "network_segments",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column(
        "network_id", UUID, sa.ForeignKey("networks.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("network_type", sa.String(32), nullable=False),
    sa.Column("physical_network", sa.String(64), nullable=True),
    sa.Column("segmentation_id", sa.BigInteger, nullable=True),
    sa.Column("segment_index", sa.Integer, nullable=False, server_default="0"),
)

subnets = sa.Table(
    "subnets",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("project_id", PROJECT, nullable=True, index=True),
    sa.Column(
        "network_id", UUID, sa.ForeignKey("networks.id"), nullable=False, index=True
    ),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("ip_version", sa.Integer, nullable=False),
    sa.Column("cidr", sa.String(64), nullable=False),
    sa.Column("gateway_ip", sa.String(64), nullable=True),
    sa.Column("enable_dhcp", sa.Boolean, nullable=False),
    sa.Column("ipv6_ra_mode", sa.String(32), nullable=True),
    sa.Column("ipv6_address_mode", sa.String(32), nullable=True),
    sa.Column("subnetpool_id", UUID, nullable=True),
    *_standard(),
)

allocation_pools = sa.Table(
    "allocation_pools",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "subnet_id", UUID, sa.ForeignKey("subnets.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("first_ip", sa.String(64), nullable=False),
    sa.Column("last_ip", sa.String(64), nullable=False),
)

dns_nameservers = sa.Table(
    "dns_nameservers",
    metadata,
    sa.Column(
        "subnet_id", UUID, sa.ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("address", sa.String(128), primary_key=True),
    sa.Column("order", sa.Integer, nullable=False),
)

host_routes = sa.Table(
    "host_routes",
    metadata,
    sa.Column(
        "subnet_id", UUID, sa.ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("nexthop", sa.String(64), primary_key=True),
)

ports = sa.Table(
    "ports",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("project_id", PROJECT, nullable=True, index=True),
    sa.Column(
        "network_id", UUID, sa.ForeignKey("networks.id"), nullable=False, index=True
    ),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("mac_address", sa.String(32), nullable=False),
    sa.Column("admin_state_up", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("device_id", sa.String(255), nullable=False, server_default="", index=True),
    sa.Column("device_owner", sa.String(255), nullable=False, server_default=""),
    *_standard(),
    sa.UniqueConstraint("network_id", "mac_address"),
)

# One row per address; the primary key is what makes a duplicate IP impossible, whatever
# the number of API processes or servers.
ip_allocations = sa.Table(
    "ip_allocations",
    metadata,
    sa.Column(
        "subnet_id", UUID, sa.ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("ip_address", sa.String(64), primary_key=True),
    sa.Column(
        "port_id", UUID, sa.ForeignKey("ports.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("network_id", UUID, nullable=False, index=True),
)

# Segment allocation tables, as ML2's: a row per id in the configured ranges, plus rows for
# provider-chosen ids outside them (allocated, dropped when freed).
vlan_allocations = sa.Table(
    "ml2_vlan_allocations",
    metadata,
    sa.Column("physical_network", sa.String(64), primary_key=True),
    sa.Column("vlan_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("allocated", sa.Boolean, nullable=False, index=True),
)


def _tunnel_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("segmentation_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("allocated", sa.Boolean, nullable=False, index=True),
    )


vxlan_allocations = _tunnel_table("ml2_vxlan_allocations")
gre_allocations = _tunnel_table("ml2_gre_allocations")
geneve_allocations = _tunnel_table("ml2_geneve_allocations")

flat_allocations = sa.Table(
    "ml2_flat_allocations",
    metadata,
    sa.Column("physical_network", sa.String(64), primary_key=True),
)
