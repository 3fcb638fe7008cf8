"""Report reviews (a quality user's approval or rejection of a heat report, with the frozen report) and the
secret every worker shares to sign browser sessions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_reviews",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("heat_id", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("key_id", sa.BigInteger(), nullable=True),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
    )
    op.create_index("ix_report_reviews_heat_id", "report_reviews", ["heat_id"])
    # the browser sessions' signing key, shared by every worker and host (api/pages/session.py)
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_secrets")
    op.drop_index("ix_report_reviews_heat_id", table_name="report_reviews")
    op.drop_table("report_reviews")
