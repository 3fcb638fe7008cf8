"""Persistence: SQLAlchemy tables, the engine, Alembic migrations and one repository per table."""
