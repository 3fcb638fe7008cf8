"""Classify pieces and record them: idempotent on ``(line_id, piece_id)``, answered only after commit.

A piece already recorded is answered with its stored result (``replayed: true``) and adds nothing;
two requests racing with the same piece both get the one row the database kept (the unique
constraint decides, the loser reads the winner's row). A spectrum that is well formed but cannot be
classified (outside every model's range) is recorded with state ``invalid`` and sent to the line's
invalid bin, so that the line gets an answer for every piece.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from api.db.tables import LineRules, PieceRecord
from api.metrics import PIECES
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


def rules_for(session: Session, line_ids: set[str]) -> dict[str, SortRules]:
    rows = session.scalars(select(LineRules).where(LineRules.line_id.in_(line_ids))) if line_ids else []
    out = {row.line_id: SortRules.model_validate_json(row.rules) for row in rows}
    return {line: out.get(line, SortRules()) for line in line_ids}


def _stored(row: PieceRecord, replayed: bool) -> dict:
    body = json.loads(row.result)
    body["record_id"] = str(row.id)
    body["replayed"] = replayed
    return body


def _classify(sorter: Sorter, pieces: list[Piece]) -> list[tuple[Classification | None, str, str]]:
    """(classification or None, model name, error) per piece; pieces on one grid and instrument run as one batch."""
    out: list[tuple[Classification | None, str, str]] = [(None, "", "")] * len(pieces)
    groups: dict[tuple[bytes, str, str | None], list[int]] = {}
    for i, p in enumerate(pieces):
        groups.setdefault((p.wavelength_nm.tobytes(), p.instrument, p.model), []).append(i)
    for (_, instrument, model), members in groups.items():
        wl = pieces[members[0]].wavelength_nm
        name = ""
        try:
            name = model or sorter.model_for(wl, instrument)
            results = sorter.classify_array(wl, np.stack([pieces[i].intensity for i in members]),
                                            instrument=instrument, model=name)
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
             "mass_kg": p.mass_kg, "key_id": key_id, "result": json.dumps(b, separators=(",", ":"))}
            for p, b in ((p, bodies[(p.line_id, p.piece_id)]) for p in todo)]
    table = PieceRecord.__table__
    insert = _dialect_insert(session)
    statement = (insert(table).values(rows).on_conflict_do_nothing(index_elements=["line_id", "piece_id"])
                 .returning(table.c.id, table.c.line_id, table.c.piece_id))
    inserted = {(line, piece): rid for rid, line, piece in session.execute(statement)}
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
        PIECES.labels(b["line_id"], b["grade"] or "", b["decision"], b["state"]).inc()
    out, seen = [], set()
    for p in pieces:
        k = (p.line_id, p.piece_id)
        if k in stored:
            out.append(stored[k])
        else:   # new; a second copy of it in the same batch is a replay of the first
            out.append({**bodies[k], "record_id": str(inserted[k]), "replayed": k in seen})
        seen.add(k)
    return out


def _dialect_insert(session: Session):
    """The INSERT with ON CONFLICT of the session's database (SQLite and PostgreSQL have it)."""
    name = session.get_bind().dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise RuntimeError(f"database {name} is not supported (SQLite or PostgreSQL)")
    return insert


def page(session: Session, line_id: str, limit: int, after: int | None) -> tuple[list[dict], str | None]:
    """Records of ``line_id`` oldest first after cursor ``after``, and the next cursor (None at the end)."""
    query = select(PieceRecord).where(PieceRecord.line_id == line_id)
    if after is not None:
        query = query.where(PieceRecord.id > after)
    rows = list(session.scalars(query.order_by(PieceRecord.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    session.rollback()
    return [_stored(r, True) for r in rows], (str(rows[-1].id) if more else None)
