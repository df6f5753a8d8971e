"""address groups, their RBAC entries, security group rules' remote_address_group_id
(branch addrgroups), and the security groups' default statefulness settings

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 16:15:00.000000

Reserved by the integrator so that branches developed side by side chain in one order;
the branch named above fills it in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "address_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("shared", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("description", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_groups")),
    )
    op.create_index(op.f("ix_address_groups_project_id"), "address_groups", ["project_id"],
                    unique=False)
    op.create_table(
        "address_associations",
        sa.Column("address_group_id", sa.String(length=36), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["address_group_id"], ["address_groups.id"],
            name=op.f("fk_address_associations_address_group_id_address_groups"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("address_group_id", "address",
                                name=op.f("pk_address_associations")),
    )
    op.create_table(
        "address_group_rbacs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("target_project", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"], ["address_groups.id"],
            name=op.f("fk_address_group_rbacs_object_id_address_groups"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_group_rbacs")),
        sa.UniqueConstraint(
            "target_project", "object_id", "action",
            name=op.f("uq_address_group_rbacs_target_project_object_id_action")),
    )
    for column in ("project_id", "object_id"):
        op.create_index(op.f(f"ix_address_group_rbacs_{column}"), "address_group_rbacs",
                        [column], unique=False)
    with op.batch_alter_table("security_group_rules") as batch:
        batch.add_column(sa.Column("remote_address_group_id", sa.String(length=36),
                                   nullable=True))
        batch.create_index(op.f("ix_security_group_rules_remote_address_group_id"),
                           ["remote_address_group_id"], unique=False)
        batch.create_foreign_key("fk_sg_rules_remote_address_group_id", "address_groups",
                                 ["remote_address_group_id"], ["id"])
    op.create_table(
        "security_groups_default_statefulness",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("scope_key", sa.String(length=255), nullable=False),
        sa.Column("stateful", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_groups_default_statefulness")),
        sa.UniqueConstraint("project_id",
                            name=op.f("uq_security_groups_default_statefulness_project_id")),
        sa.UniqueConstraint("scope_key",
                            name=op.f("uq_security_groups_default_statefulness_scope_key")),
    )


def downgrade() -> None:
    op.drop_table("security_groups_default_statefulness")
    with op.batch_alter_table("security_group_rules") as batch:
        batch.drop_constraint("fk_sg_rules_remote_address_group_id", type_="foreignkey")
        batch.drop_index(op.f("ix_security_group_rules_remote_address_group_id"))
        batch.drop_column("remote_address_group_id")
    op.drop_table("address_group_rbacs")
    op.drop_table("address_associations")
    op.drop_table("address_groups")
