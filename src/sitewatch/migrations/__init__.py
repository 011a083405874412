"""Alembic migrations of the store's schema (see ``sitewatch.store.SCHEMA_HEAD`` and ``sitewatch db upgrade``)."""
