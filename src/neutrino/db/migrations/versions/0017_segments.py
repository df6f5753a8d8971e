"""segments and routed networks (branch segments)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:45:00.000000

Reserved by the integrator so that branches developed side by side chain in one order;
the branch named above fills it in.
"""

from __future__ import annotations

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
