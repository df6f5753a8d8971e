"""agents, port bindings, provisioning blocks, DHCP agent scheduling

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_type", sa.String(length=255), nullable=False),
        sa.Column("binary", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("configurations", sa.Text(), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_timestamp", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("agent_type", "host", name=op.f("uq_agents_agent_type_host")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agents_host"), ["host"], unique=False)

    op.create_table(
        "port_bindings",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), server_default="", nullable=False),
        sa.Column("vnic_type", sa.String(length=64), server_default="normal", nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("vif_type", sa.String(length=64), server_default="unbound", nullable=False),
        sa.Column("vif_details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_port_bindings_port_id_ports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("port_id", name=op.f("pk_port_bindings")),
    )
    with op.batch_alter_table("port_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_port_bindings_host"), ["host"], unique=False)
    # every port has its binding row (unbound for the ports that exist already)
    op.execute(
        "INSERT INTO port_bindings (port_id, host, vnic_type, profile, vif_type, vif_details) "
        "SELECT id, '', 'normal', '{}', 'unbound', '{}' FROM ports"
    )

    op.create_table(
        "provisioning_blocks",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_provisioning_blocks_port_id_ports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("port_id", "entity", name=op.f("pk_provisioning_blocks")),
    )

    op.create_table(
        "network_dhcp_agent_bindings",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("dhcp_agent_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"],
            name=op.f("fk_network_dhcp_agent_bindings_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dhcp_agent_id"], ["agents.id"],
            name=op.f("fk_network_dhcp_agent_bindings_dhcp_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "network_id", "dhcp_agent_id", name=op.f("pk_network_dhcp_agent_bindings")
        ),
    )
    with op.batch_alter_table("network_dhcp_agent_bindings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_dhcp_agent_bindings_dhcp_agent_id"), ["dhcp_agent_id"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("network_dhcp_agent_bindings")
    op.drop_table("provisioning_blocks")
    op.drop_table("port_bindings")
    op.drop_table("agents")
