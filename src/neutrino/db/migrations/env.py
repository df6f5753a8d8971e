"""Alembic environment: the connection comes from neutrino (see db/migrate.py)."""

from __future__ import annotations

from alembic import context

from neutrino.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'neutrino db upgrade'")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
