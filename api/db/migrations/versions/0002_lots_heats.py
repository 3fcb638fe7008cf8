"""Lots, lot membership, inventory, recipes, heats, analyses, trims, events and jobs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lots",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("line_id", sa.String(100), nullable=False),
        sa.Column("bin", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.Column("close_rule", sa.String(20), nullable=True),
        sa.Column("piece_count", sa.Integer(), nullable=False),
        sa.Column("mass_kg", sa.Float(), nullable=False),
        sa.Column("chemistry", sa.Text(), nullable=True),
    )
    # one open lot per (line, bin): two workers recording the same bin at once meet in one lot
    op.create_index("uq_lot_open", "lots", ["line_id", "bin"], unique=True,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
    op.create_table(
        "lot_pieces",
        sa.Column("record_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("mass_kg", sa.Float(), nullable=False),
    )
    op.create_index("ix_lot_pieces_lot_id", "lot_pieces", ["lot_id"])
    op.create_table(
        "inventory_items",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("material", sa.String(200), nullable=False, unique=True),
        sa.Column("row", sa.Text(), nullable=False),
        sa.Column("available_kg", sa.Float(), nullable=True),
        sa.Column("lot_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("available_kg >= 0", name="ck_inventory_not_negative"),
    )
    op.create_table(
        "recipes",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "heats",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("recipe_id", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("charge", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("closed_at", WHEN, nullable=True),
    )
    op.create_table(
        "analyses",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("heat_id", sa.BigInteger(), nullable=False),
        sa.Column("composition", sa.Text(), nullable=False),
        sa.Column("sd", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_analyses_heat_id", "analyses", ["heat_id"])
    op.create_table(
        "trims",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("heat_id", sa.BigInteger(), nullable=False),
        sa.Column("analysis_id", sa.BigInteger(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_trims_heat_id", "trims", ["heat_id"])
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("key_id", sa.BigInteger(), nullable=True),
        sa.Column("subject", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
    )


def downgrade() -> None:
    for table in ("jobs", "events", "trims", "analyses", "heats", "recipes", "inventory_items", "lot_pieces"):
        op.drop_table(table)
    op.drop_index("uq_lot_open", "lots")
    op.drop_table("lots")
