"""external networks, routers, router ports, extra routes, floating IPs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _standard() -> list[sa.Column]:
    return [
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), server_default="0", nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "external_networks",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"],
            name=op.f("fk_external_networks_network_id_networks"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("network_id", name=op.f("pk_external_networks")),
    )
    op.create_table(
        "routers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("gw_port_id", sa.String(length=36), nullable=True),
        sa.Column("enable_snat", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_standard(),
        sa.ForeignKeyConstraint(["gw_port_id"], ["ports.id"],
                                name=op.f("fk_routers_gw_port_id_ports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routers")),
    )
    op.create_index(op.f("ix_routers_project_id"), "routers", ["project_id"], unique=False)
    op.create_table(
        "router_routes",
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("nexthop", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"],
                                name=op.f("fk_router_routes_router_id_routers"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("router_id", "destination", "nexthop",
                                name=op.f("pk_router_routes")),
    )
    op.create_table(
        "floatingips",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("floating_ip_address", sa.String(length=64), nullable=False),
        sa.Column("floating_network_id", sa.String(length=36), nullable=False),
        sa.Column("floating_port_id", sa.String(length=36), nullable=False),
        sa.Column("fixed_port_id", sa.String(length=36), nullable=True),
        sa.Column("fixed_ip_address", sa.String(length=64), nullable=True),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        *_standard(),
        sa.ForeignKeyConstraint(["floating_network_id"], ["networks.id"],
                                name=op.f("fk_floatingips_floating_network_id_networks")),
        sa.ForeignKeyConstraint(["floating_port_id"], ["ports.id"],
                                name=op.f("fk_floatingips_floating_port_id_ports"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["fixed_port_id"], ["ports.id"],
                                name=op.f("fk_floatingips_fixed_port_id_ports")),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"],
                                name=op.f("fk_floatingips_router_id_routers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_floatingips")),
        sa.UniqueConstraint("floating_network_id", "fixed_port_id", "fixed_ip_address",
                            name=op.f("uq_floatingips_fixed_address")),
    )
    for column in ("project_id", "floating_network_id", "floating_port_id", "fixed_port_id",
                   "router_id"):
        op.create_index(op.f(f"ix_floatingips_{column}"), "floatingips", [column],
                        unique=False)
    op.create_table(
        "router_l3_agent_bindings",
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("l3_agent_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"],
                                name=op.f("fk_router_l3_agent_bindings_router_id_routers"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["l3_agent_id"], ["agents.id"],
                                name=op.f("fk_router_l3_agent_bindings_l3_agent_id_agents"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("router_id", name=op.f("pk_router_l3_agent_bindings")),
    )
    op.create_index(op.f("ix_router_l3_agent_bindings_l3_agent_id"),
                    "router_l3_agent_bindings", ["l3_agent_id"], unique=False)


def downgrade() -> None:
    op.drop_table("router_l3_agent_bindings")
    op.drop_table("floatingips")
    op.drop_table("router_routes")
    op.drop_table("routers")
    op.drop_table("external_networks")
