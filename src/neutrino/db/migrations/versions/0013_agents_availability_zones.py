"""agents' availability zones and scheduler state, network/router AZ hints (branch agentsaz)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 16:15:00.000000

Reserved by the integrator so that branches developed side by side chain in one order;
the branch named above fills it in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


# (table, column, type): all nullable, so existing rows need no value
_COLUMNS = (
    ("agents", "resources_synced", sa.Boolean()),
    ("networks", "availability_zone_hints", sa.String(length=255)),
    ("routers", "availability_zone_hints", sa.String(length=255)),
)


def upgrade() -> None:
    for table, column, type_ in _COLUMNS:
        op.add_column(table, sa.Column(column, type_, nullable=True))


def downgrade() -> None:
    for table, column, _ in reversed(_COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
