"""network RBAC: network_rbacs, and networks.shared moved into '*' entries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00.000000
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_networks = sa.table(
    "networks",
    sa.column("id", sa.String(36)),
    sa.column("project_id", sa.String(255)),
    sa.column("shared", sa.Boolean()),
)
_rbacs = sa.table(
    "network_rbacs",
    sa.column("id", sa.String(36)),
    sa.column("project_id", sa.String(255)),
    sa.column("object_id", sa.String(36)),
    sa.column("target_project", sa.String(255)),
    sa.column("action", sa.String(255)),
)


def upgrade() -> None:
    op.create_table(
        "network_rbacs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("target_project", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["networks.id"],
            name=op.f("fk_network_rbacs_object_id_networks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_rbacs")),
        sa.UniqueConstraint(
            "target_project", "object_id", "action",
            name=op.f("uq_network_rbacs_target_project_object_id_action"),
        ),
    )
    with op.batch_alter_table("network_rbacs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_rbacs_object_id"), ["object_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_network_rbacs_project_id"), ["project_id"], unique=False
        )

    # A shared network becomes one shared with every project, by its owner's entry.
    conn = op.get_bind()
    shared = conn.execute(
        sa.select(_networks.c.id, _networks.c.project_id).where(
            _networks.c.shared == sa.true())
    ).all()
    if shared:
        conn.execute(sa.insert(_rbacs), [
            {"id": str(uuid.uuid4()), "project_id": project_id, "object_id": net_id,
             "target_project": "*", "action": "access_as_shared"}
            for net_id, project_id in shared
        ])

    # SQLite rebuilds the table for this (db/migrate.py turns foreign key enforcement off
    # meanwhile, so that the rebuild does not cascade into the network's children).
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.drop_column("shared")


def downgrade() -> None:
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("shared", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Only sharing with everyone has a place in the old column; entries for particular
    # projects are lost.
    conn = op.get_bind()
    conn.execute(
        sa.update(_networks).where(_networks.c.id.in_(
            sa.select(_rbacs.c.object_id).where(
                _rbacs.c.target_project == "*", _rbacs.c.action == "access_as_shared")
        )).values(shared=True)
    )
    op.drop_table("network_rbacs")  # its indexes with it
