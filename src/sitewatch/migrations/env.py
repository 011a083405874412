"""Alembic environment: sitewatch runs its migrations on a connection it opened (``sitewatch.store.upgrade``)."""

from alembic import context

from sitewatch.store import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
