"""multiple port bindings per port (binding-extended); ports' extra DHCP options
(extra_dhcp_opt)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 12:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _exact_string(length: int) -> Any:
    """Option names compare exactly (dnsmasq's names are case-sensitive): on MySQL/MariaDB
    that takes a binary collation that does not pad, as tables.CaseSensitiveString."""
    dialect = op.get_bind().dialect
    if dialect.name != "mysql":
        return sa.String(length=length)
    if getattr(dialect, "is_mariadb", False):
        collation = "utf8mb4_nopad_bin"
    elif (dialect.server_version_info or (0,)) >= (8,):
        collation = "utf8mb4_0900_bin"
    else:
        collation = "utf8mb4_bin"
    return mysql.VARCHAR(length=length, charset="utf8mb4", collation=collation)


def upgrade() -> None:
    op.create_table(
        "port_inactive_bindings",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("vnic_type", sa.String(length=64), server_default="normal", nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("vif_type", sa.String(length=64), nullable=False),
        sa.Column("vif_details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_port_inactive_bindings_port_id_ports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("port_id", "host", name=op.f("pk_port_inactive_bindings")),
    )
    op.create_table(
        "port_extra_dhcp_opts",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("opt_name", _exact_string(64), nullable=False),
        sa.Column("ip_version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("opt_value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_port_extra_dhcp_opts_port_id_ports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "port_id", "opt_name", "ip_version", name=op.f("pk_port_extra_dhcp_opts")
        ),
    )


def downgrade() -> None:
    op.drop_table("port_extra_dhcp_opts")
    op.drop_table("port_inactive_bindings")
