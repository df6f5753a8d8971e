"""What every table module uses: the metadata and its naming convention, key and
standard-attribute columns, exact string comparison, the RBAC entry table."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UUID = sa.String(36)
PROJECT = sa.String(255)


def _id_and_project() -> list[sa.Column]:
    """A project-owned resource's key columns, fresh for each table."""
    return [
        sa.Column("id", UUID, primary_key=True),
        sa.Column("project_id", PROJECT, nullable=True, index=True),
    ]


def _parent_key(name: str, parent: str) -> sa.Column:
    """A primary-key column referring to ``parent``'s id: the row goes with its parent."""
    return sa.Column(
        name, UUID, sa.ForeignKey(f"{parent}.id", ondelete="CASCADE"), primary_key=True
    )


def _standard() -> list[sa.Column]:
    return [
        sa.Column("description", sa.String(255), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("revision_number", sa.BigInteger, nullable=False, server_default="0"),
    ]


class CaseSensitiveString(sa.String):
    """A VARCHAR compared exactly: case-sensitive, trailing spaces significant. That is
    what PostgreSQL and SQLite do anyway; MySQL/MariaDB's usual collations fold case and
    pad with spaces ('a' = 'A ' there), so the column gets a binary, no-pad collation."""


def binary_collation(dialect: Any) -> str:
    """MariaDB's utf8mb4_nopad_bin, MySQL 8's utf8mb4_0900_bin (both compare exactly);
    older MySQL only has utf8mb4_bin, which still pads with spaces."""
    if getattr(dialect, "is_mariadb", False):
        return "utf8mb4_nopad_bin"
    if (getattr(dialect, "server_version_info", None) or (0,)) >= (8,):
        return "utf8mb4_0900_bin"
    return "utf8mb4_bin"


@compiles(CaseSensitiveString, "mysql")
def _case_sensitive_mysql(type_: CaseSensitiveString, compiler: Any, **_kw: Any) -> str:
    collation = binary_collation(compiler.dialect)
    return f"VARCHAR({type_.length}) CHARACTER SET utf8mb4 COLLATE {collation}"



def _rbac_table(name: str, parent: str) -> sa.Table:
    """rbac-subnetpool, rbac-address-scope, rbac-address-group: entries sharing an object
    with a project (or "*"), as network_rbacs do networks; they go with their object."""
    return sa.Table(
        name,
        metadata,
        *_id_and_project(),
        sa.Column("object_id", UUID, sa.ForeignKey(f"{parent}.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("target_project", PROJECT, nullable=False),
        sa.Column("action", sa.String(255), nullable=False),
        sa.UniqueConstraint("target_project", "object_id", "action"),
    )
