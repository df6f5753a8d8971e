"""segment host mappings (reserved for branch seghost)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 23:10:00.000000

Which hosts reach which segments (Neutron's segmenthostmappings), kept by the segments
plugin from the agents' reports (services/segments/host_mappings.py); routed networks' IPAM
and DHCP scheduling read it. It starts empty, as Neutron's did: each host's mappings are
written at its agents' first report to the upgraded server.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segmenthostmappings",
        sa.Column("segment_id", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["network_segments.id"],
            name=op.f("fk_segmenthostmappings_segment_id_network_segments"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("segment_id", "host", name=op.f("pk_segmenthostmappings")),
    )
    op.create_index(op.f("ix_segmenthostmappings_host"), "segmenthostmappings", ["host"])


def downgrade() -> None:
    op.drop_index(op.f("ix_segmenthostmappings_host"), table_name="segmenthostmappings")
    op.drop_table("segmenthostmappings")
