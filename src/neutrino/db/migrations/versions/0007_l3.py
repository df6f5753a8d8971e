"""external networks, routers, router ports, extra routes, floating IPs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 12:00:00.000000
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # reserved in the chain; its tables arrive with the work on this feature
    pass
