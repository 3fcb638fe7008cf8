"""The database tables (SQLAlchemy 2 declarative); the migrations in ``migrations/versions`` create them.

Piece records are append-only: a row is inserted once and never updated; ``(line_id, piece_id)``
is unique, so a re-sent piece finds the row that is there instead of adding one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """A key of one role; only its sha256 is stored, the key itself is shown once when made."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    lines: Mapped[str | None] = mapped_column(Text, nullable=True)   # JSON list; None: every line
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PieceRecord(Base):
    """One classified piece, as answered to the line (``result`` is the JSON body that was sent)."""

    __tablename__ = "piece_records"
    __table_args__ = (UniqueConstraint("line_id", "piece_id", name="uq_piece_line_piece"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    line_id: Mapped[str] = mapped_column(String(100))
    piece_id: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(10))
    grade: Mapped[str | None] = mapped_column(String(50), nullable=True)
    family: Mapped[str | None] = mapped_column(String(50), nullable=True)
    decision: Mapped[str] = mapped_column(String(20))
    bin: Mapped[str] = mapped_column(String(100))
    model_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    captured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    encoder_count: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    belt_speed_m_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    mass_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    key_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    result: Mapped[str] = mapped_column(Text)


class LineRules(Base):
    """The sort rules of one line (JSON of :class:`api.services.rules.SortRules`), set by an admin."""

    __tablename__ = "line_rules"

    line_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    rules: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
