"""Keys, piece records and line sort rules.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("lines", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "piece_records",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("line_id", sa.String(100), nullable=False),
        sa.Column("piece_id", sa.String(200), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("grade", sa.String(50), nullable=True),
        sa.Column("family", sa.String(50), nullable=True),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("bin", sa.String(100), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("encoder_count", sa.BigInteger(), nullable=True),
        sa.Column("belt_speed_m_s", sa.Float(), nullable=True),
        sa.Column("mass_kg", sa.Float(), nullable=True),
        sa.Column("key_id", sa.BigInteger(), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.UniqueConstraint("line_id", "piece_id", name="uq_piece_line_piece"),
    )
    # paging a line's records oldest first reads (line_id, id)
    op.create_index("ix_piece_line_id", "piece_records", ["line_id", "id"])
    op.create_table(
        "line_rules",
        sa.Column("line_id", sa.String(100), primary_key=True),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("line_rules")
    op.drop_index("ix_piece_line_id", "piece_records")
    op.drop_table("piece_records")
    op.drop_table("api_keys")
