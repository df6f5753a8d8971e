"""security groups and rules, port security, allowed address pairs

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
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
    # existing networks and ports keep what they had: no filtering existed, but Neutron's
    # default (enabled) is what a port created from now on gets too
    for table in ("networks", "ports"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("port_security_enabled", sa.Boolean(),
                                          server_default=sa.true(), nullable=False))

    op.create_table(
        "security_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("stateful", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("default_for", sa.String(length=255), nullable=True),
        *_standard(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_groups")),
        sa.UniqueConstraint("default_for", name=op.f("uq_security_groups_default_for")),
    )
    op.create_index(op.f("ix_security_groups_project_id"), "security_groups",
                    ["project_id"], unique=False)

    op.create_table(
        "security_group_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("ethertype", sa.String(length=8), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("remote_ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("rule_key", sa.String(length=255), nullable=False),
        *_standard(),
        sa.ForeignKeyConstraint(
            ["security_group_id"], ["security_groups.id"],
            name=op.f("fk_security_group_rules_security_group_id_security_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_group_id"], ["security_groups.id"],
            name=op.f("fk_security_group_rules_remote_group_id_security_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_group_rules")),
        sa.UniqueConstraint("rule_key", name=op.f("uq_security_group_rules_rule_key")),
    )
    for column in ("project_id", "security_group_id", "remote_group_id"):
        op.create_index(op.f(f"ix_security_group_rules_{column}"), "security_group_rules",
                        [column], unique=False)

    op.create_table(
        "security_group_port_bindings",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"],
            name=op.f("fk_security_group_port_bindings_port_id_ports"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"], ["security_groups.id"],
            name="fk_sg_port_bindings_security_group_id",
        ),
        sa.PrimaryKeyConstraint("port_id", "security_group_id",
                                name=op.f("pk_security_group_port_bindings")),
    )
    op.create_index(op.f("ix_security_group_port_bindings_security_group_id"),
                    "security_group_port_bindings", ["security_group_id"], unique=False)

    op.create_table(
        "allowed_address_pairs",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("mac_address", sa.String(length=32), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"],
            name=op.f("fk_allowed_address_pairs_port_id_ports"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("port_id", "mac_address", "ip_address",
                                name=op.f("pk_allowed_address_pairs")),
    )


def downgrade() -> None:
    op.drop_table("allowed_address_pairs")
    op.drop_table("security_group_port_bindings")
    op.drop_table("security_group_rules")
    op.drop_table("security_groups")
    for table in ("ports", "networks"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("port_security_enabled")
