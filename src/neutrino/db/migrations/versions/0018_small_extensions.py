"""small API extensions: default SG rule remote address group (branch smallext)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:45:00.000000

Reserved by the integrator so that branches developed side by side chain in one order;
the branch named above fills it in.
"""

from __future__ import annotations

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
