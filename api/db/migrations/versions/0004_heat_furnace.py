"""The furnace a heat is melted in (its melting energy and carrier in the report's footprint).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: heats charged before this revision keep the report's default furnace
    op.add_column("heats", sa.Column("furnace", sa.String(100), nullable=True))


def downgrade() -> None:
    op.drop_column("heats", "furnace")
