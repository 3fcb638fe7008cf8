"""Classified pieces gather into lots: one open lot per (line, bin), closed by count, by mass or on request.

A recorded piece joins the open lot of its line and bin (bins in the line's ``no_lot_bins`` gather
none) in the same transaction as its record; its mass is the request's ``mass_kg``, else the line's
``piece_mass_kg``, else (or at 0 kg) it joins no lot, since a lot's chemistry is mass weighted. The lot closes when
it reaches the line's ``lot_close_pieces`` or ``lot_close_mass_kg`` (the batch that reaches it is
kept whole), or on ``POST /v1/lots/{id}/close``. A closed lot carries the library's
:class:`LotChemistry` and is registered in the inventory as one item, the row
``LotChemistry.inventory_row()``, with the recycled class, yield, price and CO2e of the line's
``lot_material`` (a catalogue material). The per-piece random error and the per-grade shared
error and bias come from the model card (``ModelCard.lot_error``); a card without them gives the
random error from each piece's composition interval and no shared part.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from statistics import NormalDist

from fastapi import HTTPException
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from api.db.tables import InventoryItem, LineRules, LotPiece, PieceRecord
from api.db.tables import Lot as LotRow
from api.services.inventory import conflict, iso, record, register
from api.services.rules import SortRules
from blending.catalogue.materials import get_material
from blending.errors import AluloopError, NotFoundError
from blending.lot_chemistry import LotChemistry, PieceChemistry, ShareBias, lot_chemistry
from sorter.serving import Sorter

log = logging.getLogger("api.lots")
# coverage of a model's composition interval when its card does not say [-]
DEFAULT_INTERVAL_COVERAGE = 0.9


def piece_mass_kg(mass_kg: float | None, rules: SortRules) -> float | None:
    return mass_kg if mass_kg is not None else rules.piece_mass_kg


def join_lots(session: Session, sorter: Sorter, rules: Mapping[str, SortRules], rows: Sequence[dict],
              inserted: Mapping[tuple[str, str], int]) -> None:
    """Add the newly recorded pieces (``rows`` whose (line, piece) is in ``inserted``) to their open lots,
    and close the lots that reach their line's rule; in the caller's transaction."""
    groups: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows:
        rid = inserted.get((row["line_id"], row["piece_id"]))
        line_rules = rules[row["line_id"]]
        if rid is None or row["bin"] in line_rules.no_lot_bins:
            continue
        mass = piece_mass_kg(row["mass_kg"], line_rules)
        if mass is None or mass <= 0:   # a lot's chemistry is mass weighted: unweighed pieces join none
            continue
        groups.setdefault((row["line_id"], row["bin"]), []).append((rid, mass))
    for (line_id, bin_name), members in groups.items():
        lot = _add(session, line_id, bin_name, members)
        line_rules = rules[line_id]
        rule = None
        if line_rules.lot_close_pieces is not None and lot.piece_count >= line_rules.lot_close_pieces:
            rule = "count"
        elif line_rules.lot_close_mass_kg is not None and lot.mass_kg >= line_rules.lot_close_mass_kg:
            rule = "mass"
        if rule is not None:
            _close_or_keep_open(session, sorter, lot, rule, line_rules)


def _close_or_keep_open(session: Session, sorter: Sorter, lot: LotRow, rule: str, rules: SortRules) -> None:
    """Close a lot that reached its rule, inside a savepoint: a lot whose chemistry cannot be computed
    (the library refuses its pieces) stays open with an event saying why, and the pieces that reached
    the rule are recorded all the same; a line must never lose a piece's answer to its lot."""
    try:
        with session.begin_nested():
            _close(session, sorter, lot, rule, None, rules)
    except (AluloopError, HTTPException) as exc:
        session.refresh(lot)
        log.warning("lot %s stays open: %s", lot.id, exc)
        record(session, None, "lot", lot.id, "close_failed", rule=rule, reason=str(getattr(exc, "detail", exc)))


def _dialect_insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _add(session: Session, line_id: str, bin_name: str, members: list[tuple[int, float]]) -> LotRow:
    """The open lot of (line, bin) with ``members`` (record id, kg) added; made when there is none.

    The partial unique index on open lots makes the insert of a second open lot a no-op, and the
    counter update only touches a lot still open: a lot closed by another worker meanwhile is
    passed over and the pieces go to the next one.
    """
    table = LotRow.__table__
    mass = sum(m for _, m in members)
    for _ in range(5):
        session.execute(_dialect_insert(session)(table).values(
            line_id=line_id, bin=bin_name, status="open", opened_at=datetime.now(UTC), piece_count=0, mass_kg=0.0)
            .on_conflict_do_nothing(index_elements=["line_id", "bin"], index_where=text("status = 'open'")))
        lot_id = session.scalar(select(table.c.id).where(table.c.line_id == line_id, table.c.bin == bin_name,
                                                         table.c.status == "open"))
        if lot_id is None:
            continue
        done = session.execute(update(table).where(table.c.id == lot_id, table.c.status == "open").values(
            piece_count=table.c.piece_count + len(members), mass_kg=table.c.mass_kg + mass))
        if done.rowcount == 1:
            session.execute(LotPiece.__table__.insert(), [{"record_id": rid, "lot_id": lot_id, "mass_kg": kg}
                                                          for rid, kg in members])
            lot = session.get(LotRow, lot_id)
            session.refresh(lot)
            return lot
    raise RuntimeError(f"could not find or open a lot for line {line_id}, bin {bin_name}")


def _figures(sorter: Sorter, model: str | None) -> dict:
    """The model card's composition error figures (``ModelCard.lot_error``); empty tables when the card
    has none (then the random sd comes from each piece's interval and no shared part is known)."""
    card = sorter.cards[model][1] if model in sorter.cards else None
    figures = card.lot_error() if card is not None and hasattr(card, "lot_error") else {}
    return {k: figures.get(k) or {} for k in ("sd_wt_pct", "bias_wt_pct", "unknown_sd_wt_pct", "random_sd_wt_pct",
                                              "unknown_wt_pct")}


def _interval_sd(result: dict, coverage: float) -> dict[str, float]:
    """Per-element sd [wt%] of a piece's estimate from its two-sided interval of ``coverage`` (the
    wider half, since clipping at 0 wt% shortens the lower one), assuming a normal error."""
    z = NormalDist().inv_cdf(0.5 + coverage / 2)
    out = {}
    for element, mean in (result.get("composition_wt_pct") or {}).items():
        interval = (result.get("composition_interval_wt_pct") or {}).get(element)
        if mean is None or interval is None:
            continue
        out[element] = max(interval[1] - mean, mean - interval[0], 0.0) / z
    return out


def _pieces(session: Session, sorter: Sorter, lot_id: int) -> tuple[list[PieceChemistry], str | None]:
    """The lot's pieces for the library, and the model that read most of them."""
    rows = session.execute(select(PieceRecord.result, PieceRecord.grade, PieceRecord.decision,
                                  PieceRecord.model_name, LotPiece.mass_kg)
                           .join(LotPiece, LotPiece.record_id == PieceRecord.id)
                           .where(LotPiece.lot_id == lot_id).order_by(PieceRecord.id))
    out, models = [], Counter()
    for result_text, grade, decision, model, mass in rows:
        result = json.loads(result_text)
        models[model] += 1
        card = sorter.cards[model][1] if model in sorter.cards else None
        coverage = getattr(card, "interval_coverage", None) or DEFAULT_INTERVAL_COVERAGE
        known = decision == "accept" and grade is not None
        sd = _interval_sd(result, coverage)
        if known:
            sd.update(_figures(sorter, model)["random_sd_wt_pct"].get(grade, {}))
        composition = {e: float(v) for e, v in (result.get("composition_wt_pct") or {}).items() if v is not None}
        out.append(PieceChemistry(mass_kg=mass, grade=grade if known else None, composition_wt_pct=composition,
                                  random_sd_wt_pct=sd))
    return out, (models.most_common(1)[0][0] if models else None)


def _prior(pieces: list[PieceChemistry], figures: dict) -> dict[str, float]:
    """What a piece without an estimate counts as [wt%]: the card's unknown prior, else (a card
    without one) the mass-weighted mean of the lot's pieces that have the estimate."""
    prior = dict(figures["unknown_wt_pct"])
    for e in dict.fromkeys(e for p in pieces for e in p.composition_wt_pct):
        if e not in prior:
            having = [p for p in pieces if e in p.composition_wt_pct]
            prior[e] = math.fsum(p.mass_kg * p.composition_wt_pct[e] for p in having) / max(
                math.fsum(p.mass_kg for p in having), 1e-300)
    return prior


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def chemistry_json(chem: LotChemistry) -> dict:
    body = asdict(chem) if is_dataclass(chem) else dict(vars(chem))
    body["inventory_row"] = chem.inventory_row()
    return _plain(body)


def _close(session: Session, sorter: Sorter, lot: LotRow, rule: str, key_id: int | None,
           rules: SortRules) -> LotRow:
    table = LotRow.__table__
    done = session.execute(update(table).where(table.c.id == lot.id, table.c.status == "open")
                           .values(status="closed", closed_at=datetime.now(UTC), close_rule=rule))
    if done.rowcount != 1:
        raise conflict(f"lot {lot.id} is closed already")
    session.refresh(lot)
    if lot.mass_kg <= 0:
        raise conflict(f"lot {lot.id} weighs nothing; a lot needs weighed pieces to have a chemistry")
    pieces, model = _pieces(session, sorter, lot.id)
    figures = _figures(sorter, model)
    shared = ShareBias(figures["sd_wt_pct"], figures["bias_wt_pct"], figures["unknown_sd_wt_pct"])
    base = get_material(rules.lot_material)
    chem = lot_chemistry(pieces, shared, name=f"lot {lot.id} {lot.line_id}/{lot.bin}",
                         unknown_wt_pct=_prior(pieces, figures),
                         recycled=base.recycled.value, metal_yield=base.metal_yield, cost_per_kg=base.cost_per_kg,
                         co2e_kg_per_kg=base.co2e_kg_per_kg)
    lot.chemistry = json.dumps(chemistry_json(chem))
    record(session, key_id, "lot", lot.id, "closed", rule=rule, piece_count=lot.piece_count, mass_kg=lot.mass_kg)
    register(session, {k: str(v) for k, v in chem.inventory_row().items()}, key_id, lot_id=lot.id, commit=False)
    return lot


def line_rules(session: Session, line_id: str) -> SortRules:
    row = session.get(LineRules, line_id)
    return SortRules.model_validate_json(row.rules) if row else SortRules()


def close_lot(session: Session, sorter: Sorter, lot_id: int, key_id: int | None) -> dict:
    lot = session.get(LotRow, lot_id)
    if lot is None:
        raise NotFoundError(f"no lot {lot_id}", field="path.lot_id")
    if lot.status != "open":
        raise conflict(f"lot {lot_id} is closed already ({lot.close_rule}, {lot.closed_at:%Y-%m-%d %H:%M} UTC)")
    _close(session, sorter, lot, "request", key_id, line_rules(session, lot.line_id))
    session.commit()
    return lot_json(session, lot)


def lot_json(session: Session, lot: LotRow) -> dict:
    item = session.scalar(select(InventoryItem.id).where(InventoryItem.lot_id == lot.id))
    return {"id": str(lot.id), "line_id": lot.line_id, "bin": lot.bin, "status": lot.status,
            "opened_at": iso(lot.opened_at), "closed_at": iso(lot.closed_at),
            "close_rule": lot.close_rule, "piece_count": lot.piece_count, "mass_kg": lot.mass_kg,
            "chemistry": json.loads(lot.chemistry) if lot.chemistry else None,
            "inventory_item_id": None if item is None else str(item)}


def get_lot(session: Session, lot_id: int) -> dict:
    lot = session.get(LotRow, lot_id)
    if lot is None:
        raise NotFoundError(f"no lot {lot_id}", field="path.lot_id")
    return lot_json(session, lot)


def list_lots(session: Session, line_id: str | None, status: str | None, limit: int) -> list[dict]:
    query = select(LotRow).order_by(LotRow.id.desc()).limit(limit)
    if line_id is not None:
        query = query.where(LotRow.line_id == line_id)
    if status is not None:
        query = query.where(LotRow.status == status)
    return [lot_json(session, lot) for lot in session.scalars(query)]
