"""floating IP port forwardings and router/subnet extras (branch portfwd)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 16:15:00.000000

port_forwardings (floating-ip-port-forwarding) and subnet_service_types
(subnet-service-types), as db/tables.py declares them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "port_forwardings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("floatingip_id", sa.String(length=36), nullable=False),
        sa.Column("external_port", sa.Integer(), nullable=False),
        sa.Column("internal_port_id", sa.String(length=36), nullable=False),
        sa.Column("internal_ip_address", sa.String(length=64), nullable=False),
        sa.Column("internal_port", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=1024), server_default="",
                  nullable=False),
        sa.ForeignKeyConstraint(
            ["floatingip_id"], ["floatingips.id"],
            name=op.f("fk_port_forwardings_floatingip_id_floatingips"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["internal_port_id"], ["ports.id"],
            name=op.f("fk_port_forwardings_internal_port_id_ports"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_port_forwardings")),
        sa.UniqueConstraint("floatingip_id", "external_port", "protocol",
                            name="uq_port_forwardings_external"),
        sa.UniqueConstraint("internal_port_id", "internal_ip_address", "internal_port",
                            "protocol", name="uq_port_forwardings_internal"),
    )
    for column in ("floatingip_id", "internal_port_id"):
        op.create_index(op.f(f"ix_port_forwardings_{column}"), "port_forwardings",
                        [column], unique=False)
    op.create_table(
        "subnet_service_types",
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("service_type", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["subnet_id"], ["subnets.id"],
            name=op.f("fk_subnet_service_types_subnet_id_subnets"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subnet_id", "service_type",
                                name=op.f("pk_subnet_service_types")),
    )


def downgrade() -> None:
    op.drop_table("subnet_service_types")
    for column in ("floatingip_id", "internal_port_id"):
        op.drop_index(op.f(f"ix_port_forwardings_{column}"), table_name="port_forwardings")
    op.drop_table("port_forwardings")
