"""floating IP port forwardings and router/subnet extras (branch portfwd)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 16:15:00.000000

Reserved by the integrator so that branches developed side by side chain in one order;
the branch named above fills it in.
"""

from __future__ import annotations

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
