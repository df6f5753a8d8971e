"""flavors, service profiles, auto-allocated topologies (branch flavors)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 16:15:00.000000

Flavors and service profiles (extension flavors) and their bindings; routers' flavor_id
(l3-flavors); external networks' is_default and each project's auto-allocated topology
(auto-allocated-topology). ``external_networks.default_key`` is 1 on the default external
network and null elsewhere: its unique key admits one default network whatever races.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flavors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("description", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("service_type", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flavors")),
    )
    op.create_table(
        "service_profiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("driver", sa.String(length=1024), server_default="", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("metainfo", sa.String(length=4096), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_profiles")),
    )
    op.create_table(
        "flavor_service_profile_bindings",
        sa.Column("flavor_id", sa.String(length=36), nullable=False),
        sa.Column("service_profile_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["flavor_id"], ["flavors.id"],
            name=op.f("fk_flavor_service_profile_bindings_flavor_id_flavors"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["service_profile_id"], ["service_profiles.id"],
            name=op.f("fk_flavor_service_profile_bindings_service_profile_id_service_profiles"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("flavor_id", "service_profile_id",
                                name=op.f("pk_flavor_service_profile_bindings")),
    )
    op.create_index(op.f("ix_flavor_service_profile_bindings_service_profile_id"),
                    "flavor_service_profile_bindings", ["service_profile_id"], unique=False)
    with op.batch_alter_table("routers") as batch:
        batch.add_column(sa.Column("flavor_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(op.f("fk_routers_flavor_id_flavors"), "flavors",
                                 ["flavor_id"], ["id"])
        batch.create_index(op.f("ix_routers_flavor_id"), ["flavor_id"], unique=False)
    with op.batch_alter_table("external_networks") as batch:
        batch.add_column(sa.Column("is_default", sa.Boolean(), server_default=sa.false(),
                                   nullable=False))
        batch.add_column(sa.Column("default_key", sa.Integer(), nullable=True))
        batch.create_unique_constraint(op.f("uq_external_networks_default_key"),
                                       ["default_key"])
    op.create_table(
        "auto_allocated_topologies",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"],
            name=op.f("fk_auto_allocated_topologies_network_id_networks"),
            ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["router_id"], ["routers.id"],
            name=op.f("fk_auto_allocated_topologies_router_id_routers"),
            ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_auto_allocated_topologies")),
    )
    op.create_index(op.f("ix_auto_allocated_topologies_network_id"),
                    "auto_allocated_topologies", ["network_id"], unique=False)
    op.create_index(op.f("ix_auto_allocated_topologies_router_id"),
                    "auto_allocated_topologies", ["router_id"], unique=False)


def downgrade() -> None:
    op.drop_table("auto_allocated_topologies")
    with op.batch_alter_table("external_networks") as batch:
        batch.drop_constraint(op.f("uq_external_networks_default_key"), type_="unique")
        batch.drop_column("default_key")
        batch.drop_column("is_default")
    with op.batch_alter_table("routers") as batch:
        # the foreign key first: MariaDB keeps an index while a foreign key needs it
        batch.drop_constraint(op.f("fk_routers_flavor_id_flavors"), type_="foreignkey")
        batch.drop_index(op.f("ix_routers_flavor_id"))
        batch.drop_column("flavor_id")
    op.drop_table("flavor_service_profile_bindings")
    op.drop_table("service_profiles")
    op.drop_table("flavors")
