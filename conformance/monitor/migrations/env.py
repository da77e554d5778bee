"""Alembic environment: migrations always run programmatically on a given connection
(``conformance.monitor.store.migrate``), never from an ``alembic.ini``."""

from __future__ import annotations

from alembic import context

from conformance.monitor.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  version_table="monitor_alembic_version", render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
