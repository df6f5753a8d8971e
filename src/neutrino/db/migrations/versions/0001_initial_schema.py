"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:09:24.233376
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ml2_flat_allocations",
        sa.Column("physical_network", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("physical_network", name=op.f("pk_ml2_flat_allocations")),
    )
    op.create_table(
        "ml2_geneve_allocations",
        sa.Column("segmentation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("allocated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("segmentation_id", name=op.f("pk_ml2_geneve_allocations")),
    )
    with op.batch_alter_table("ml2_geneve_allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ml2_geneve_allocations_allocated"), ["allocated"], unique=False
        )

    op.create_table(
        "ml2_gre_allocations",
        sa.Column("segmentation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("allocated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("segmentation_id", name=op.f("pk_ml2_gre_allocations")),
    )
    with op.batch_alter_table("ml2_gre_allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ml2_gre_allocations_allocated"), ["allocated"], unique=False
        )

    op.create_table(
        "ml2_vlan_allocations",
        sa.Column("physical_network", sa.String(length=64), nullable=False),
        sa.Column("vlan_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("allocated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "physical_network", "vlan_id", name=op.f("pk_ml2_vlan_allocations")
        ),
    )
    with op.batch_alter_table("ml2_vlan_allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ml2_vlan_allocations_allocated"), ["allocated"], unique=False
        )

    op.create_table(
        "ml2_vxlan_allocations",
        sa.Column("segmentation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("allocated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("segmentation_id", name=op.f("pk_ml2_vxlan_allocations")),
    )
    with op.batch_alter_table("ml2_vxlan_allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ml2_vxlan_allocations_allocated"), ["allocated"], unique=False
        )

    op.create_table(
        "networks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("shared", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("mtu", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
    )
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_networks_project_id"), ["project_id"], unique=False)

    op.create_table(
        "network_segments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("network_type", sa.String(length=32), nullable=False),
        sa.Column("physical_network", sa.String(length=64), nullable=True),
        sa.Column("segmentation_id", sa.BigInteger(), nullable=True),
        sa.Column("segment_index", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("fk_network_segments_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_segments")),
    )
    with op.batch_alter_table("network_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_segments_network_id"), ["network_id"], unique=False
        )

    op.create_table(
        "ports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("mac_address", sa.String(length=32), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=255), server_default="", nullable=False),
        sa.Column("device_owner", sa.String(length=255), server_default="", nullable=False),
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_ports_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ports")),
        sa.UniqueConstraint(
            "network_id", "mac_address", name=op.f("uq_ports_network_id_mac_address")
        ),
    )
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ports_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ports_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ports_project_id"), ["project_id"], unique=False)

    op.create_table(
        "subnets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("gateway_ip", sa.String(length=64), nullable=True),
        sa.Column("enable_dhcp", sa.Boolean(), nullable=False),
        sa.Column("ipv6_ra_mode", sa.String(length=32), nullable=True),
        sa.Column("ipv6_address_mode", sa.String(length=32), nullable=True),
        sa.Column("subnetpool_id", sa.String(length=36), nullable=True),
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_subnets_network_id_networks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subnets")),
    )
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subnets_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subnets_project_id"), ["project_id"], unique=False)

    op.create_table(
        "allocation_pools",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("first_ip", sa.String(length=64), nullable=False),
        sa.Column("last_ip", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subnet_id"],
            ["subnets.id"],
            name=op.f("fk_allocation_pools_subnet_id_subnets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_pools")),
    )
    with op.batch_alter_table("allocation_pools", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allocation_pools_subnet_id"), ["subnet_id"], unique=False
        )

    op.create_table(
        "dns_nameservers",
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subnet_id"],
            ["subnets.id"],
            name=op.f("fk_dns_nameservers_subnet_id_subnets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subnet_id", "address", name=op.f("pk_dns_nameservers")),
    )
    op.create_table(
        "host_routes",
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("nexthop", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subnet_id"],
            ["subnets.id"],
            name=op.f("fk_host_routes_subnet_id_subnets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subnet_id", "destination", "nexthop", name=op.f("pk_host_routes")),
    )
    op.create_table(
        "ip_allocations",
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["ports.id"],
            name=op.f("fk_ip_allocations_port_id_ports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subnet_id"],
            ["subnets.id"],
            name=op.f("fk_ip_allocations_subnet_id_subnets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subnet_id", "ip_address", name=op.f("pk_ip_allocations")),
    )
    with op.batch_alter_table("ip_allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ip_allocations_network_id"), ["network_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ip_allocations_port_id"), ["port_id"], unique=False)
