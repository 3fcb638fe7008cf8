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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.tables import LineRules, PieceRecord
from api.metrics import PIECES
from api.services.rules import SortRules, bin_for
from blending.errors import InputError
from sorter.serving import Classification, Sorter

ATTEMPTS = 3


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
    body["received_at"] = received_at.isoformat()
    return body


def classify_pieces(session: Session, sorter: Sorter, pieces: list[Piece], key_id: int | None = None) -> list[dict]:
    """Classify and record ``pieces`` in one transaction; the stored result of each, in order.

    Returns only after the commit: an answer means the records are durable.
    """
    for _attempt in range(ATTEMPTS):
        try:
            return _classify_and_record(session, sorter, pieces, key_id)
        except IntegrityError:
            # another request recorded one of these pieces between our read and our insert: read it
            session.rollback()
    raise RuntimeError(f"pieces could not be recorded after {ATTEMPTS} attempts of concurrent inserts")


def _classify_and_record(session: Session, sorter: Sorter, pieces: list[Piece], key_id: int | None) -> list[dict]:
    keys = {(p.line_id, p.piece_id) for p in pieces}
    existing = {(r.line_id, r.piece_id): r for r in session.scalars(
        select(PieceRecord).where(tuple_(PieceRecord.line_id, PieceRecord.piece_id).in_(keys)))}
    new_index: dict[tuple[str, str], int] = {}
    todo: list[Piece] = []
    for p in pieces:
        k = (p.line_id, p.piece_id)
        if k not in existing and k not in new_index:
            new_index[k] = len(todo)
            todo.append(p)
    rows: list[PieceRecord] = []
    bodies: list[dict] = []
    if todo:
        received_at = datetime.now(UTC)
        rules = rules_for(session, {p.line_id for p in todo})
        for p, found in zip(todo, _classify(sorter, todo), strict=True):
            body = _result(p, found, rules[p.line_id], sorter, received_at)
            bodies.append(body)
            rows.append(PieceRecord(
                line_id=p.line_id, piece_id=p.piece_id, state=body["state"], grade=body["grade"],
                family=body["family"], decision=body["decision"], bin=body["bin"],
                model_name=body["model"]["name"] if body["model"] else None, captured_at=p.captured_at,
                received_at=received_at, encoder_count=p.encoder_count, belt_speed_m_s=p.belt_speed_m_s,
                mass_kg=p.mass_kg, key_id=key_id, result=json.dumps(body, separators=(",", ":"))))
        session.add_all(rows)
        session.flush()
        ids = [r.id for r in rows]
        session.commit()
        for body in bodies:
            PIECES.labels(body["line_id"], body["grade"] or "", body["decision"], body["state"]).inc()
    out = []
    seen: set[tuple[str, str]] = set()
    for p in pieces:
        k = (p.line_id, p.piece_id)
        if k in existing or k in seen:
            row = existing.get(k)
            if row is not None:
                out.append(_stored(row, True))
            else:   # sent twice in one batch: the second is a replay of the first
                i = new_index[k]
                out.append({**bodies[i], "record_id": str(ids[i]), "replayed": True})
        else:
            i = new_index[k]
            out.append({**bodies[i], "record_id": str(ids[i]), "replayed": False})
        seen.add(k)
    if not todo:
        session.rollback()   # nothing written: end the read transaction
    return out


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
