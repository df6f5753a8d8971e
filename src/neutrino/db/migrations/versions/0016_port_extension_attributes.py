"""port extension attributes: device profile, NUMA affinity policy (branch plugins)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:15:00.000000

Reserved by the integrator so that branches developed side by side chain in one order;
the branch named above fills it in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # columns of the port's row (core/port_columns.py): lists read them with the ports
    with op.batch_alter_table("ports") as batch:
        batch.add_column(sa.Column("device_profile", sa.String(255), nullable=True))
        batch.add_column(sa.Column("numa_affinity_policy", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ports") as batch:
        batch.drop_column("numa_affinity_policy")
        batch.drop_column("device_profile")
