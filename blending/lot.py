"""Inventory lots: a charge material with the amount on hand and how it can be charged.

A lot is what the furnace can draw on for one heat: a material (own chemistry or a
catalogue entry), the mass available, and optionally a unit size (whole bales or
sows are charged as integer counts) and a cap on its share of the charge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from blending.catalogue.composition import Composition, CompositionError
from blending.catalogue.materials import (
    Material,
    UnknownMaterialError,
    element_columns,
    element_symbol,
    get_material,
    material_from_row,
)
from blending.catalogue.tables import DataFileError, Row, read_csv_file
from blending.errors import InputError

# Columns a row must fill when it does not name a catalogue material.
OWN_MATERIAL_COLUMNS = ("recycled", "yield", "cost_per_kg", "co2e_kg_per_kg")
INVENTORY_COLUMNS = ("material",)
# Every other column an inventory may have besides element columns; free-text columns
# (``source...``, ``note...``, ``comment...``) are read by people, not by aluloop.
LOT_COLUMNS = ("material", "available_kg", "unit_kg", "max_fraction", "recycled", "yield", "cost_per_kg",
               "co2e_kg_per_kg", "isri_code", "description", "charge_ok", "status")
_FREE_TEXT_PREFIXES = ("source", "note", "comment")


def check_inventory_header(columns: list[str], file: str) -> None:
    """Refuse a column aluloop would not read, naming it: an element in any case and with a wt% unit
    (``Fe``, ``fe``, ``Fe_pct``, ``Fe %``, ``Fe wt%``, ``sd_Fe``) is read; anything else that is not a
    lot column would silently drop chemistry, so it is an error."""
    try:
        element_columns(columns)
    except InputError as exc:
        raise DataFileError(file, None, exc.field, exc.reason) from None
    for column in columns:
        name = column.strip()
        if not name or name in LOT_COLUMNS or name.lower().startswith(_FREE_TEXT_PREFIXES):
            continue
        found = element_symbol(name)
        if found is not None:
            continue
        raise DataFileError(file, None, None, f"column {name!r} is neither an inventory column "
                            f"({', '.join(LOT_COLUMNS)}) nor an element content in wt% (Fe, fe, Fe_pct, Fe %, "
                            "Fe wt%, sd_Fe); rename it, or remove it if it holds no chemistry")


@dataclass(frozen=True)
class Lot:
    """A material on hand for one heat.

    Attributes
    ----------
    material : Material
        Chemistry (mean and sd, wt%), metal yield, price and footprint.
    available_kg : float or None
        Mass on hand [kg]; None for unlimited (e.g. primary ingot bought to order).
    unit_kg : float or None
        Mass of one bale, sow or bundle [kg]; the lot is then charged in whole units.
    max_fraction : float or None
        Largest share of the charged mass this lot may take [kg/kg], e.g. for a
        furnace that tolerates only so much coated scrap.
    """

    material: Material
    available_kg: float | None = None
    unit_kg: float | None = None
    max_fraction: float | None = None

    def __post_init__(self):
        if self.available_kg is not None and not (self.available_kg >= 0 and math.isfinite(self.available_kg)):
            raise InputError(f"lot {self.name}: available_kg {self.available_kg:g} must be a non-negative number")
        if self.unit_kg is not None and not (self.unit_kg > 0 and math.isfinite(self.unit_kg)):
            raise InputError(f"lot {self.name}: unit_kg {self.unit_kg:g} must be positive")
        if self.max_fraction is not None and not 0 <= self.max_fraction <= 1:
            raise InputError(f"lot {self.name}: max_fraction {self.max_fraction:g} must be between 0 and 1")

    @property
    def name(self) -> str:
        return self.material.name

    @property
    def max_units(self) -> int | None:
        """Whole units on hand, or None when unlimited or not charged in units."""
        if self.unit_kg is None or self.available_kg is None:
            return None
        # 1e-9 so that 3 x 500 kg listed as 1500 kg gives 3 units despite float round-off
        return int(math.floor(self.available_kg / self.unit_kg + 1e-9))


def _has_chemistry(row: Row) -> bool:
    means, sds = element_columns(list(row.values))
    return any((row.values.get(c) or "").strip() for c in [*means, *sds])


def lot_from_row(row: Row) -> Lot:
    """A lot from one inventory row.

    A row naming a catalogue material (``aluloop materials list``) starts from the
    catalogue entry. Any price, footprint, yield or recycled cell filled in the row
    overrides the catalogue's value for that field; if the row gives any element or
    ``sd_`` cell, the row's chemistry replaces the catalogue's chemistry as a whole
    (blank elements then count as 0), because a lot analysis and a typical class
    chemistry must not be mixed element by element. A row whose material is not in
    the catalogue must fill ``recycled, yield, cost_per_kg, co2e_kg_per_kg``.
    """
    name = row.text("material")
    try:
        base = get_material(name)
    except UnknownMaterialError:
        base = None
    if base is None:
        missing = [c for c in OWN_MATERIAL_COLUMNS if not (row.values.get(c) or "").strip()]
        if missing:
            raise row.error("material", f"{name!r} is not a catalogue material, so {', '.join(missing)} "
                            "must be filled in (see `aluloop materials list` for catalogue names)")
        material = material_from_row(row)
    else:
        material = _override(base, row)
    return Lot(
        material=material,
        available_kg=row.number_or_none("available_kg", lo=0, unit="kg"),
        unit_kg=_positive_or_none(row, "unit_kg"),
        max_fraction=row.number_or_none("max_fraction", lo=0, hi=1, unit="kg/kg"),
    )


def _positive_or_none(row: Row, field: str) -> float | None:
    value = row.number_or_none(field, lo=0, unit="kg")
    if value == 0:
        raise row.error(field, "0 kg; a unit must weigh something (leave blank for loose material)")
    return value


def _override(base: Material, row: Row) -> Material:
    changes: dict = {}
    if _has_chemistry(row):
        own = material_from_row(Row(row.file, row.line, {
            **{c: str(getattr(base, a)) for c, a in (("yield", "metal_yield"), ("cost_per_kg", "cost_per_kg"),
                                                      ("co2e_kg_per_kg", "co2e_kg_per_kg"))},
            "recycled": base.recycled.value, **{k: v for k, v in row.values.items() if (v or "").strip()},
        }))
        changes.update(composition=own.composition, sd_wt_pct=own.sd_wt_pct)
    if (row.values.get("recycled") or "").strip():
        changes["recycled"] = material_from_row(Row(row.file, row.line, {
            "material": base.name, "yield": "1", "cost_per_kg": "0", "co2e_kg_per_kg": "0",
            "recycled": row.values["recycled"]})).recycled
    for column, attr, hi in (("yield", "metal_yield", 1), ("cost_per_kg", "cost_per_kg", None),
                             ("co2e_kg_per_kg", "co2e_kg_per_kg", None)):
        value = row.number_or_none(column, lo=0, hi=hi)
        if value is not None:
            if column == "yield" and value == 0:
                raise row.error("yield", "0 kg/kg: a material that yields no metal cannot be charged")
            changes[attr] = value
    return replace(base, **changes) if changes else base


def load_inventory(path: str | Path) -> list[Lot]:
    """Lots from an inventory CSV.

    Columns: ``material`` (required), ``available_kg`` (blank or absent: unlimited),
    ``cost_per_kg`` [USD/kg], ``co2e_kg_per_kg`` [kg CO2e/kg], ``recycled``
    (post_consumer, pre_consumer, run_around, primary, alloying), ``yield`` [kg/kg],
    one column per element [wt%] with any element symbol, optional ``sd_<El>`` [wt%],
    ``unit_kg`` [kg] and ``max_fraction`` [kg/kg]. See :func:`lot_from_row` for how a
    catalogue material named in ``material`` combines with the row's cells.
    """
    rows = read_csv_file(path, required_columns=INVENTORY_COLUMNS)
    if not rows:
        raise DataFileError(Path(path).name, None, None, "lists no lots")
    check_inventory_header(list(dict.fromkeys(c for row in rows for c in row.values)), Path(path).name)
    lots: list[Lot] = []
    seen: dict[str, int] = {}
    for row in rows:
        try:
            lot = lot_from_row(row)
        except CompositionError as exc:
            raise DataFileError(row.file, row.line, None, str(exc).split(": ", 1)[-1]) from None
        key = lot.name.lower()
        if key in seen:
            raise row.error("material", f"{lot.name!r} is already listed in row {seen[key]}; "
                            "give each lot its own name")
        seen[key] = row.line
        lots.append(lot)
    return lots


def heel_composition_from_text(text: str, where: str = "--heel-composition") -> Composition:
    """``"Mg=1.1,Mn=0.9"`` to a Composition [wt%]."""
    wt: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise InputError(f"{where}: {part!r} is not of the form Element=wt%")
        symbol, value = (s.strip() for s in part.split("=", 1))
        try:
            wt[symbol] = float(value)
        except ValueError:
            raise InputError(f"{where}: {symbol}={value!r} is not a number") from None
    return Composition(wt, where=where)
