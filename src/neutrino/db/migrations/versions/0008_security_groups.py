"""security groups and rules, port security, allowed address pairs, extra DHCP options

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 12:00:00.000000
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # reserved in the chain; its tables arrive with the work on this feature
    pass
