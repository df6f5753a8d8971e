"""multiple port bindings per port (binding-extended)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 12:00:00.000000
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # reserved in the chain; its tables arrive with the work on this feature
    pass
