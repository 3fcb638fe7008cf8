"""The database tables (SQLAlchemy 2 declarative); the migrations in ``migrations/versions`` create them.

Piece records are append-only: a row is inserted once and never updated; ``(line_id, piece_id)``
is unique, so a re-sent piece finds the row that is there instead of adding one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
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


# ---- lots, inventory, recipes, heats (migration 0002) ----
# JSON documents (chemistry, requests, results) are Text holding JSON: the same on SQLite and PostgreSQL.


class Lot(Base):
    """Pieces of one (line, bin) gathered until the lot closes; a closed lot carries its chemistry.

    At most one lot per (line, bin) is open (a partial unique index), so two workers recording
    pieces of the same bin at once add them to the same lot.
    """

    __tablename__ = "lots"
    __table_args__ = (Index("uq_lot_open", "line_id", "bin", unique=True, sqlite_where=text("status = 'open'"),
                            postgresql_where=text("status = 'open'")),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    line_id: Mapped[str] = mapped_column(String(100))
    bin: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10))                  # open, closed
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    close_rule: Mapped[str | None] = mapped_column(String(20), nullable=True)   # count, mass, request
    piece_count: Mapped[int] = mapped_column(Integer, default=0)
    mass_kg: Mapped[float] = mapped_column(Float, default=0.0)
    chemistry: Mapped[str | None] = mapped_column(Text, nullable=True)   # JSON, when closed


class LotPiece(Base):
    """A piece record's membership of a lot (the piece records themselves stay append-only)."""

    __tablename__ = "lot_pieces"

    record_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)   # one lot per piece
    lot_id: Mapped[int] = mapped_column(BigInteger, index=True)
    mass_kg: Mapped[float] = mapped_column(Float)


class InventoryItem(Base):
    """A charge material on hand: the cells of one inventory CSV row, and the stock left [kg]."""

    __tablename__ = "inventory_items"
    __table_args__ = (CheckConstraint("available_kg >= 0", name="ck_inventory_not_negative"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    material: Mapped[str] = mapped_column(String(200), unique=True)
    row: Mapped[str] = mapped_column(Text)                            # JSON {column: cell}
    available_kg: Mapped[float | None] = mapped_column(Float, nullable=True)   # None: bought to order
    lot_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Recipe(Base):
    """A charge computed over the stored inventory: the request and ``Recipe.to_json()``."""

    __tablename__ = "recipes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(20))
    request: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Heat(Base):
    """A heat charged from a recipe (one heat per recipe); open until closed."""

    __tablename__ = "heats"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    recipe_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))                  # charged, closed
    charge: Mapped[str] = mapped_column(Text)                        # JSON [{material, mass_kg}]
    furnace: Mapped[str | None] = mapped_column(String(100), nullable=True)   # None: the report's default
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Analysis(Base):
    """An OES analysis of a heat's melt [wt%]."""

    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    heat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    composition: Mapped[str] = mapped_column(Text)                   # JSON {element: wt%}
    sd: Mapped[str] = mapped_column(Text)                            # JSON {element: wt%}
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Trim(Base):
    """A trim correction computed for a heat from one of its analyses."""

    __tablename__ = "trims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    heat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    analysis_id: Mapped[int] = mapped_column(BigInteger)
    request: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Event(Base):
    """Every state change of a lot, inventory item, recipe, heat or job: who (key id), when, what."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    subject: Mapped[str] = mapped_column(String(20))                 # lot, inventory, recipe, heat, job
    subject_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="{}")          # JSON


class Job(Base):
    """A long solve (a campaign plan): its state lives here, so any worker can answer its status URL."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))                  # queued, running, done, failed
    request: Mapped[str] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


# ---- heat reports (migration 0003) ----


class AppSecret(Base):
    """A secret every worker and host of the service must share (the browser sessions' signing key)."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class ReportReview(Base):
    """A quality user's approval or rejection of a heat's report, with the report as it was then (JSON).

    An approved report is frozen: it is served from ``report`` while the heat is unchanged; a later
    change of the heat gives a new revision that needs its own review.
    """

    __tablename__ = "report_reviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    heat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    revision: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(10))                # approved, rejected
    comment: Mapped[str] = mapped_column(Text, default="")
    key_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reviewer: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    content_sha256: Mapped[str] = mapped_column(String(64))
    report: Mapped[str] = mapped_column(Text)                        # JSON of the report reviewed
