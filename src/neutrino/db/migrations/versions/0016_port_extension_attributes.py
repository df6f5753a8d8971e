"""port extension attributes: device profile, NUMA affinity policy (branch plugins)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:15:00.000000

Reserved by the integrator so that branches developed side by side chain in one order;
the branch named above fills it in.
"""

from __future__ import annotations

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
