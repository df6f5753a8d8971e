"""segments and routed networks (branch segments)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:45:00.000000

Segments become a resource (/v2.0/segments: a name and standard attributes), subnets may
sit on one (routed networks) and ports keep how their addresses were allocated
(ip_allocation).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("network_segments") as batch:
        batch.add_column(sa.Column("name", sa.String(255), nullable=True))
        batch.add_column(sa.Column("description", sa.String(255), nullable=True))
        batch.add_column(sa.Column("created_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("revision_number", sa.BigInteger, nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("subnets") as batch:
        batch.add_column(sa.Column("segment_id", sa.String(36), nullable=True))
        batch.create_index(op.f("ix_subnets_segment_id"), ["segment_id"])
        batch.create_foreign_key(op.f("fk_subnets_segment_id_network_segments"),
                                 "network_segments", ["segment_id"], ["id"])
    with op.batch_alter_table("ports") as batch:
        batch.add_column(sa.Column("ip_allocation", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ports") as batch:
        batch.drop_column("ip_allocation")
    with op.batch_alter_table("subnets") as batch:
        batch.drop_constraint(op.f("fk_subnets_segment_id_network_segments"),
                              type_="foreignkey")
        batch.drop_index(op.f("ix_subnets_segment_id"))
        batch.drop_column("segment_id")
    with op.batch_alter_table("network_segments") as batch:
        for name in ("revision_number", "updated_at", "created_at",
                     "description", "name"):
            batch.drop_column(name)
