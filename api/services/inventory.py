"""The inventory on hand: purchased scrap, primary, hardeners and closed lots, as inventory CSV rows.

Each item is stored as the cells of one inventory CSV row and read back through the same library
reader as the CSV (:func:`blending.lot.lot_from_row`), so an item the service accepts is one
``aluloop blend --inventory`` accepts, and the other way round. The stock left lives in its own
column: a heat's charge takes it down in one conditional UPDATE per material, so two heats racing
for the last tonne cannot both have it, and a check constraint keeps it from going negative.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from fastapi import HTTPException
from sqlalchemy import case, func, select, text, update
from sqlalchemy.orm import Session

from api.db.tables import Event, InventoryItem
from blending.catalogue.composition import CompositionError
from blending.catalogue.tables import DataFileError, Row
from blending.errors import InputError, NotFoundError
from blending.lot import Lot, check_inventory_header, lot_from_row

# a recipe may ask for a hair more than the stock through float round-off [kg]
ROUND_OFF_KG = 1e-6


def iso(when: datetime | None) -> str | None:
    """ISO 8601 with the zone (SQLite hands back the stored UTC time without it)."""
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def conflict(detail: str) -> HTTPException:
    """409: the request is well formed but the state of the plant does not allow it."""
    return HTTPException(409, detail)


def record(session: Session, key_id: int | None, subject: str, subject_id: int, action: str, **detail) -> None:
    """One audit event (who, when, what) in the caller's transaction."""
    session.add(Event(at=datetime.now(UTC), key_id=key_id, subject=subject, subject_id=subject_id, action=action,
                      detail=json.dumps(detail, separators=(",", ":"), default=str)))


def cells_of(body: Mapping[str, object]) -> dict[str, str]:
    """The request's cells as CSV text (numbers as Python writes them, null as blank)."""
    out = {}
    for column, value in body.items():
        out[str(column)] = "" if value is None else (repr(value) if isinstance(value, float) else str(value))
    return out


def lot_from_cells(cells: Mapping[str, str], where: str = "inventory item") -> Lot:
    """The library's Lot of one row of cells; errors name the column (``inventory item, Mg: ...``)."""
    check_inventory_header(list(cells), where)
    row = Row(where, None, dict(cells))  # type: ignore[arg-type]   (no line: errors name the field only)
    try:
        return lot_from_row(row)
    except CompositionError as exc:
        raise DataFileError(where, None, None, str(exc).split(": ", 1)[-1]) from None


def _item_json(item: InventoryItem) -> dict:
    return {"id": str(item.id), "material": item.material, "available_kg": item.available_kg,
            "lot_id": None if item.lot_id is None else str(item.lot_id), "row": current_cells(item),
            "created_at": iso(item.created_at)}


def current_cells(item: InventoryItem) -> dict[str, str]:
    """The item's CSV cells with ``available_kg`` the stock left now."""
    cells = json.loads(item.row)
    cells["available_kg"] = "" if item.available_kg is None else repr(float(item.available_kg))
    return cells


def register(session: Session, cells: dict[str, str], key_id: int | None, *, lot_id: int | None = None,
             commit: bool = True) -> dict:
    """Add one item; 422 when the row is not a valid inventory row, 409 when the material is listed already."""
    lot = lot_from_cells(cells)
    _lock_name(session, lot.name)
    _refuse_same_name(session, lot.name)
    item = InventoryItem(material=lot.name, row=json.dumps(cells), available_kg=lot.available_kg, lot_id=lot_id,
                         created_at=datetime.now(UTC), created_by=key_id)
    session.add(item)
    session.flush()
    try:   # SQLite: the INSERT holds the write lock, so a rival committed before it is seen here
        _refuse_same_name(session, lot.name, but=item.id)
    except HTTPException:
        session.delete(item)
        session.flush()
        raise
    record(session, key_id, "inventory", item.id, "registered", material=lot.name, available_kg=lot.available_kg)
    out = _item_json(item)
    if commit:
        session.commit()
    return out


def _lock_name(session: Session, name: str) -> None:
    """PostgreSQL: a transaction advisory lock on the name, whatever its case, so that two registrations
    of one name (``UBC``, ``ubc``) go one after the other and the second sees the first committed
    (READ COMMITTED reads afresh after the lock). SQLite serialises writers itself (see register)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.blake2b(name.lower().encode(), digest_size=8).digest(), "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _refuse_same_name(session: Session, name: str, *, but: int | None = None) -> None:
    """409 when another item has this name, whatever its case."""
    query = select(InventoryItem).where(func.lower(InventoryItem.material) == name.lower())
    if but is not None:
        query = query.where(InventoryItem.id != but)
    same = session.scalars(query.limit(1)).first()
    if same is not None:
        raise conflict(f"{name!r} is in the inventory already (item {same.id}); give each item its own name")


def items(session: Session, *, in_stock: bool = False) -> list[InventoryItem]:
    query = select(InventoryItem).order_by(InventoryItem.id)
    if in_stock:
        query = query.where((InventoryItem.available_kg.is_(None)) | (InventoryItem.available_kg > 0))
    return list(session.scalars(query))


def list_items(session: Session) -> list[dict]:
    return [_item_json(i) for i in items(session)]


def get_item(session: Session, item_id: int) -> dict:
    item = session.get(InventoryItem, item_id)
    if item is None:
        raise NotFoundError(f"no inventory item {item_id}", field="path.item_id")
    return _item_json(item)


def lots_on_hand(session: Session) -> list[Lot]:
    """Every item with stock left (or bought to order) as the library's Lot, in the order registered."""
    return [lot_from_cells(current_cells(i), i.material) for i in items(session, in_stock=True)]


def inventory_csv(rows: Sequence[Mapping[str, str]]) -> str:
    """Rows of cells as one inventory CSV (the union of their columns, in order of first use)."""
    columns = list(dict.fromkeys(c for row in rows for c in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue()


def withdraw(session: Session, charge: Sequence[tuple[str, float]], key_id: int | None, heat_id: int) -> None:
    """Take each (material, kg) off the stock, in the caller's transaction; 409 naming the first that
    is short or gone (the caller rolls back, so nothing is taken)."""
    table = InventoryItem.__table__
    for material, kg in charge:
        if kg <= 0:
            continue
        item = session.scalar(select(InventoryItem).where(InventoryItem.material == material))
        if item is None:
            raise conflict(f"{material!r} is no longer in the inventory")
        if item.available_kg is None:   # bought to order
            record(session, key_id, "inventory", item.id, "charged", heat_id=heat_id, kg=kg)
            continue
        left = table.c.available_kg - kg
        done = session.execute(
            update(table).where(table.c.id == item.id, table.c.available_kg >= kg - ROUND_OFF_KG)
            .values(available_kg=case((left < 0, 0.0), else_=left)))
        if done.rowcount != 1:
            session.refresh(item)
            raise conflict(f"{material}: the heat needs {kg:,.1f} kg but {item.available_kg:,.1f} kg are left")
        record(session, key_id, "inventory", item.id, "charged", heat_id=heat_id, kg=kg)


def check_cells(body: Mapping[str, object]) -> dict[str, str]:
    cells = cells_of(body)
    if not cells.get("material", "").strip():
        raise InputError("is required: the material's name (a catalogue name or your own)", field="material")
    return cells
