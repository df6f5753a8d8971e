"""subnet pools and address scopes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
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
        "address_scopes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_standard(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_scopes")),
    )
    op.create_index(op.f("ix_address_scopes_project_id"), "address_scopes",
                    ["project_id"], unique=False)

    op.create_table(
        "subnetpools",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("default_prefixlen", sa.Integer(), nullable=False),
        sa.Column("min_prefixlen", sa.Integer(), nullable=False),
        sa.Column("max_prefixlen", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("default_version", sa.Integer(), nullable=True),
        sa.Column("default_quota", sa.Integer(), nullable=True),
        sa.Column("address_scope_id", sa.String(length=36), nullable=True),
        *_standard(),
        sa.ForeignKeyConstraint(["address_scope_id"], ["address_scopes.id"],
                                name="fk_subnetpools_address_scope_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subnetpools")),
        sa.UniqueConstraint("default_version", name=op.f("uq_subnetpools_default_version")),
    )
    op.create_index(op.f("ix_subnetpools_project_id"), "subnetpools", ["project_id"],
                    unique=False)
    op.create_index(op.f("ix_subnetpools_address_scope_id"), "subnetpools",
                    ["address_scope_id"], unique=False)

    op.create_table(
        "subnetpool_prefixes",
        sa.Column("subnetpool_id", sa.String(length=36), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subnetpool_id"], ["subnetpools.id"],
            name=op.f("fk_subnetpool_prefixes_subnetpool_id_subnetpools"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subnetpool_id", "cidr", name=op.f("pk_subnetpool_prefixes")),
    )
    op.create_index(op.f("ix_subnets_subnetpool_id"), "subnets", ["subnetpool_id"],
                    unique=False)
    for table, parent in (("subnetpool_rbacs", "subnetpools"),
                          ("address_scope_rbacs", "address_scopes")):
        op.create_table(
            table,
            sa.Column("id", sa.String(length=36), nullable=False),
            sa.Column("project_id", sa.String(length=255), nullable=True),
            sa.Column("object_id", sa.String(length=36), nullable=False),
            sa.Column("target_project", sa.String(length=255), nullable=False),
            sa.Column("action", sa.String(length=255), nullable=False),
            sa.ForeignKeyConstraint(["object_id"], [f"{parent}.id"],
                                    name=op.f(f"fk_{table}_object_id_{parent}"),
                                    ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("target_project", "object_id", "action",
                                name=op.f(f"uq_{table}_target_project_object_id_action")),
        )
        for column in ("project_id", "object_id"):
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def downgrade() -> None:
    op.drop_table("address_scope_rbacs")
    op.drop_table("subnetpool_rbacs")
    op.drop_index(op.f("ix_subnets_subnetpool_id"), table_name="subnets")
    op.drop_table("subnetpool_prefixes")
    op.drop_table("subnetpools")
    op.drop_table("address_scopes")
