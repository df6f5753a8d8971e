"""agents' availability zones and scheduler state, network/router AZ hints (branch agentsaz)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 16:15:00.000000

Reserved by the integrator so that branches developed side by side chain in one order;
the branch named above fills it in.
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
