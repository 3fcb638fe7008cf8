"""Alembic environment: run by :func:`api.db.engine.upgrade` with an open connection (never from a URL here)."""

from __future__ import annotations

from alembic import context

from api.db.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
