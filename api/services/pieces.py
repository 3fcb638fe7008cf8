"""Classify pieces and record them: idempotent on ``(line_id, piece_id)``, answered only after commit.

A piece already recorded is answered with its stored result (``replayed: true``) and adds nothing;
two requests racing with the same piece both get the one row the database kept (the unique
constraint decides, the loser reads the winner's row). A spectrum that is well formed but cannot be
classified (outside every model's range) is recorded with state ``invalid`` and sent to the line's
invalid bin, so that the line gets an answer for every piece.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
from sqlalchemy import bindparam, func, select, text, tuple_
from sqlalchemy.orm import Session

from api.db.tables import LineRules, PieceRecord
from api.metrics import PIECES, child
from api.services import ejection
from api.services.lots import join_lots
from api.services.rules import SortRules, bin_for
from blending.errors import InputError
from sorter.serving import Classification, Sorter


@dataclass(frozen=True)
class Piece:
    """One piece to classify: ids, acquisition data and its spectrum as arrays."""

    piece_id: str
    line_id: str
    wavelength_nm: np.ndarray
    intensity: np.ndarray
    instrument: str = ""
    captured_at: datetime | None = None
    encoder_count: int | None = None
    belt_speed_m_s: float | None = None
    mass_kg: float | None = None
    model: str | None = None


# PostgreSQL advisory lock between writers (shared) and the pager (exclusive): see page()
PAGING_LOCK_ID = 250_026
_RULES_SELECT = select(LineRules.line_id, LineRules.rules)
_RULES_OF_LINE = _RULES_SELECT.where(LineRules.line_id == bindparam("line_id"))
_parsed_rules: dict[str, SortRules] = {}
_parsed_lock = threading.Lock()
DEFAULT_RULES = SortRules()


def parsed_rules(text_json: str) -> SortRules:
    """The rules of a stored JSON text, parsed once per distinct text (the text is read every time)."""
    rules = _parsed_rules.get(text_json)
    if rules is None:
        rules = SortRules.model_validate_json(text_json)
        with _parsed_lock:
            if len(_parsed_rules) >= 1024:
                _parsed_rules.clear()
            _parsed_rules[text_json] = rules
    return rules


def rules_for(session: Session, line_ids: set[str]) -> dict[str, SortRules]:
    """The current rules of each line, read in the caller's transaction (so a change made by any
    worker or host applies from the next piece on); only the parsing of a text already seen is cached."""
    connection = session.connection()   # Core statements: the ORM adds nothing to reading two columns
    if len(line_ids) == 1 and connection.dialect.name == "sqlite":
        line = next(iter(line_ids))
        rows = _driver(connection).execute(_sqlite_plan(connection.dialect).rules_sql, (line,)).fetchall()
        return {line: parsed_rules(rows[0][1]) if rows else DEFAULT_RULES}
    if len(line_ids) == 1:
        rows = connection.execute(_RULES_OF_LINE, {"line_id": next(iter(line_ids))})
    else:
        rows = connection.execute(_RULES_SELECT.where(LineRules.line_id.in_(line_ids))) if line_ids else []
    out = {line: parsed_rules(rules) for line, rules in rows}
    return {line: out.get(line, DEFAULT_RULES) for line in line_ids}


def _stored(row: PieceRecord, replayed: bool) -> dict:
    body = orjson.loads(row.result)
    body["record_id"] = str(row.id)
    body["replayed"] = replayed
    return body


def _classify(sorter: Sorter, pieces: list[Piece]) -> list[tuple[Classification | None, str, str]]:
    """(classification or None, model name, error) per piece; pieces on one grid and instrument run as one batch."""
    out: list[tuple[Classification | None, str, str]] = [(None, "", "")] * len(pieces)
    groups: dict[tuple[bytes, str, str | None], list[int]] = {}
    if len(pieces) == 1:   # one piece, one group: no 32 KiB grid key to build, no stack to copy
        groups[(b"", pieces[0].instrument, pieces[0].model)] = [0]
    else:
        for i, p in enumerate(pieces):
            groups.setdefault((p.wavelength_nm.tobytes(), p.instrument, p.model), []).append(i)
    for (_, instrument, model), members in groups.items():
        wl = pieces[members[0]].wavelength_nm
        name = ""
        try:
            name = model or sorter.model_for(wl, instrument)
            rows = (pieces[members[0]].intensity[None, :] if len(members) == 1
                    else np.stack([pieces[i].intensity for i in members]))
            results = sorter.classify_array(wl, rows, instrument=instrument, model=name)
        except InputError as exc:   # well formed, but no model can read it
            for i in members:
                out[i] = (None, name, str(exc))
            continue
        for i, r in zip(members, results, strict=True):
            out[i] = (r, name, "")
    return out


def _result(piece: Piece, found: tuple[Classification | None, str, str], rules: SortRules, sorter: Sorter,
            received_at: datetime) -> dict:
    classification, model, error = found
    state = "invalid" if classification is None else "ok"
    if state == "ok" and piece.captured_at is not None and rules.late_after_ms is not None:
        if (received_at - piece.captured_at).total_seconds() * 1000.0 > rules.late_after_ms:
            state = "late"
    state, fire_count = ejection.timing(state, capture_count=piece.encoder_count, belt_speed_m_s=piece.belt_speed_m_s,
                                        captured_at=piece.captured_at, decided_at=datetime.now(UTC),
                                        ejection=rules.ejection)
    sha = sorter.cards[model][1].model_sha256 if model in sorter.cards else ""
    body: dict = {"piece_id": piece.piece_id, "line_id": piece.line_id, "state": state}
    if classification is None:
        body.update(grade=None, family=None, probabilities={}, composition_wt_pct={},
                    composition_interval_wt_pct={}, composition_note="", decision="unknown", reason=error)
        top = 0.0
    else:
        c = classification.to_json()
        del c["file"]
        body.update(c)
        top = max(classification.probabilities.values(), default=0.0)
    body["bin"] = bin_for(rules, state=state, decision=body["decision"], grade=body["grade"],
                          family=body["family"], top_probability=top)
    body["model"] = {"name": model, "sha256": sha} if model else None
    body["captured_at"] = piece.captured_at.isoformat() if piece.captured_at else None
    body["fire_count"] = fire_count
    body["received_at"] = received_at.isoformat()
    return body


def classify_pieces(session: Session, sorter: Sorter, pieces: list[Piece], key_id: int | None = None) -> list[dict]:
    """Classify and record ``pieces`` in one transaction; the stored result of each, in order.

    Returns only after the commit: an answer means the records are durable. One INSERT ... ON
    CONFLICT DO NOTHING writes the new pieces; the ones it skipped (recorded before, or by a
    request racing this one, which the database waited for) are read back and answered as stored.
    """
    unique: dict[tuple[str, str], Piece] = {}
    for p in pieces:
        unique.setdefault((p.line_id, p.piece_id), p)
    todo = list(unique.values())
    received_at = datetime.now(UTC)
    rules = rules_for(session, {p.line_id for p in todo})
    bodies = {(p.line_id, p.piece_id): _result(p, found, rules[p.line_id], sorter, received_at)
              for p, found in zip(todo, _classify(sorter, todo), strict=True)}
    rows = [{"line_id": p.line_id, "piece_id": p.piece_id, "state": b["state"], "grade": b["grade"],
             "family": b["family"], "decision": b["decision"], "bin": b["bin"],
             "model_name": b["model"]["name"] if b["model"] else None, "captured_at": p.captured_at,
             "received_at": received_at, "encoder_count": p.encoder_count, "belt_speed_m_s": p.belt_speed_m_s,
             "mass_kg": p.mass_kg, "key_id": key_id, "result": orjson.dumps(b).decode()}
            for p, b in ((p, bodies[(p.line_id, p.piece_id)]) for p in todo)]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":   # ids commit in the order the pager sees them: see page()
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:id)"), {"id": PAGING_LOCK_ID})
    # one cached statement, executed with one parameter set per row (SQLAlchemy batches them into
    # multi-row INSERTs with RETURNING): no SQL compiled per request
    connection = session.connection()
    if dialect == "sqlite" and len(rows) == 1:   # one piece, the hot path: straight to the driver
        plan = _sqlite_plan(connection.dialect)
        found = _driver(connection).execute(plan.insert_sql, plan.insert_params(rows[0])).fetchall()
    else:
        found = connection.execute(_insert_statement(dialect), rows)
    inserted = {(line, piece): rid for rid, line, piece in found}
    join_lots(session, sorter, rules, rows, inserted)   # the new pieces join their bins' open lots, same commit
    skipped = [k for k in unique if k not in inserted]
    stored: dict[tuple[str, str], dict] = {}
    if skipped:
        for row in session.scalars(select(PieceRecord).where(
                tuple_(PieceRecord.line_id, PieceRecord.piece_id).in_(skipped))):
            stored[(row.line_id, row.piece_id)] = _stored(row, True)
    session.commit()
    for k in inserted:
        b = bodies[k]
        child(PIECES, b["line_id"], b["grade"] or "", b["decision"], b["state"]).inc()
    out, seen = [], set()
    for p in pieces:
        k = (p.line_id, p.piece_id)
        if k in stored:
            out.append(stored[k])
        else:   # new; a second copy of it in the same batch is a replay of the first
            out.append({**bodies[k], "record_id": str(inserted[k]), "replayed": k in seen})
        seen.add(k)
    return out


@dataclass(frozen=True)
class _SqlitePlan:
    """The rules read and the one-row INSERT of :func:`classify_pieces` on SQLite, compiled once by
    SQLAlchemy from the same statements, with each column's own conversion (a datetime's text form)
    taken from its SQLAlchemy type, for the driver's cursor. SQLAlchemy's execution of a compiled
    statement (context, parameter processing, result object) costs more than SQLite running it:
    about 0.1 ms a request of the two statements (``bench.serve_latency``'s stage figures)."""

    rules_sql: str
    insert_sql: str
    columns: tuple[tuple[str, object], ...]   # (column, its bind conversion or None), in parameter order

    def insert_params(self, row: dict) -> tuple:
        return tuple(row[name] if convert is None or row[name] is None else convert(row[name])
                     for name, convert in self.columns)


_SQLITE_PLAN: list[_SqlitePlan] = []


def _sqlite_plan(dialect) -> _SqlitePlan:
    if not _SQLITE_PLAN:
        table = PieceRecord.__table__
        names = [c.name for c in table.c if c.name != "id"]
        insert = _insert_statement("sqlite").compile(dialect=dialect, column_keys=names)
        convert = {c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in table.c}
        _SQLITE_PLAN.append(_SqlitePlan(str(_RULES_OF_LINE.compile(dialect=dialect)), str(insert),
                                        tuple((name, convert[name]) for name in insert.positiontup)))
    return _SQLITE_PLAN[0]


def _driver(connection):
    """The driver's own connection under a SQLAlchemy connection: statements run on it share the
    session's transaction (the session commits or rolls back that same connection)."""
    return connection.connection.driver_connection


_INSERTS: dict[str, object] = {}


def _insert_statement(name: str):
    """INSERT ... ON CONFLICT (line_id, piece_id) DO NOTHING RETURNING id, line_id, piece_id for database ``name``."""
    statement = _INSERTS.get(name)
    if statement is None:
        if name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        elif name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            raise RuntimeError(f"database {name} is not supported (SQLite or PostgreSQL)")
        table = PieceRecord.__table__
        statement = (insert(table).on_conflict_do_nothing(index_elements=["line_id", "piece_id"])
                     .returning(table.c.id, table.c.line_id, table.c.piece_id))
        _INSERTS[name] = statement
    return statement


def page(session: Session, line_id: str, limit: int, after: int | None) -> tuple[list[dict], str | None]:
    """Records of ``line_id`` oldest first after cursor ``after``, and the next cursor (None at the end).

    A page never skips a record that commits later. SQLite has one writer at a time, so ids commit
    in order. On PostgreSQL ids come from a sequence when a row is inserted, and a transaction that
    took id 10 may commit after one that took id 11: a page read in between would end at 11 and the
    next one start after it, skipping 10. So every writer holds a shared advisory lock from before
    its INSERT to its commit, and the pager takes the same lock exclusively for an instant: once it
    has it no write is in flight, every id up to the largest stored one is final (committed, or
    never to be: rolled back or burnt by a re-sent piece), and the page is cut there. The pager
    waits at most for the writes in flight to commit (milliseconds); new writes wait for the instant.
    """
    query = select(PieceRecord).where(PieceRecord.line_id == line_id)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PAGING_LOCK_ID})
        final_id = session.scalar(select(func.max(PieceRecord.id)))
        session.commit()   # let writers go on: ids up to final_id are settled
        if final_id is None:
            return [], None
        query = query.where(PieceRecord.id <= final_id)
    if after is not None:
        query = query.where(PieceRecord.id > after)
    rows = list(session.scalars(query.order_by(PieceRecord.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    session.rollback()
    return [_stored(r, True) for r in rows], (str(rows[-1].id) if more else None)
