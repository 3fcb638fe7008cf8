"""Charge materials: scrap classes, primary metal and alloying additions.

Each material carries what the charge optimiser needs: typical chemistry with its
lot-to-lot spread, metal yield, recycled category under ISO 14021, price and
cradle-to-gate CO2e factor, each with its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from blending.catalogue.composition import Composition, CompositionError, elements
from blending.catalogue.tables import DataFileError, Row, read_package_csv
from blending.errors import InputError, NotFoundError


class RecycledCategory(StrEnum):
    """Origin of a material under ISO 14021:2016 clause 7.8.

    Recycled content counts pre- and post-consumer material; run-around scrap
    reclaimed within the same process does not count.
    """

    POST_CONSUMER = "post_consumer"
    PRE_CONSUMER = "pre_consumer"
    RUN_AROUND = "run_around"
    PRIMARY = "primary"
    ALLOYING = "alloying"

    @property
    def counts_as_recycled(self) -> bool:
        return self in (RecycledCategory.POST_CONSUMER, RecycledCategory.PRE_CONSUMER)


@dataclass(frozen=True)
class Material:
    """A charge material of typical (mean) chemistry and spread.

    Attributes
    ----------
    composition : Composition
        Mean chemistry [wt%].
    sd_wt_pct : dict of str to float
        One standard deviation of each element between lots or charges [wt%].
    metal_yield : float
        Liquid metal per mass charged [kg/kg], after dross, coatings and moisture.
    cost_per_kg : float
        Purchase price [USD/kg charged].
    co2e_kg_per_kg : float
        Cradle-to-gate footprint [kg CO2e/kg charged].
    """

    name: str
    composition: Composition
    sd_wt_pct: dict[str, float]
    metal_yield: float
    recycled: RecycledCategory
    cost_per_kg: float
    co2e_kg_per_kg: float
    isri_code: str = ""
    description: str = ""
    charge_ok: bool = True
    source: str = ""

    def sd(self, symbol: str) -> float:
        return self.sd_wt_pct.get(symbol, 0.0)


# An element column: the symbol in any case, optionally ``sd_`` before and a wt% unit after
# (``Fe``, ``fe``, ``Fe_pct``, ``Fe %``, ``Fe wt%``, ``Fe_wt_pct``, ``sd_Fe``, ``sd_fe_pct``).
_ELEMENT_COLUMN = re.compile(r"^(?P<sd>sd[_ ]+)?(?P<symbol>[A-Za-z]{1,2})\s*[_ ]?\s*"
                             r"(?:wt[_ .]*%|wt[_ ]*pct|%|pct|\(wt\s*%\))?$", re.IGNORECASE)


def element_symbol(column: str) -> tuple[str, bool] | None:
    """The element a column holds and whether it is a spread (``sd_``) column, or None.

    Symbols match case-insensitively (``si`` is Si); ``_pct``, ``%``, ``wt%`` and ``_wt_pct``
    suffixes name the unit, which must be wt%.
    """
    match = _ELEMENT_COLUMN.match(column.strip())
    if match is None:
        return None
    by_lower = {s.lower(): s for s in elements()}
    symbol = by_lower.get(match["symbol"].lower())
    return None if symbol is None else (symbol, match["sd"] is not None)


def element_columns(columns: list[str] | tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """Element mean columns and spread columns of a header, each as ``{column as written: symbol}``.

    Al (the balance) is neither. Two columns for one element (``Fe`` and ``fe %``) are refused.
    """
    means: dict[str, str] = {}
    sds: dict[str, str] = {}
    for column in columns:
        found = element_symbol(column)
        if found is None or found[0] == "Al":
            continue
        symbol, is_sd = found
        target = sds if is_sd else means
        twin = next((c for c, s in target.items() if s == symbol), None)
        if twin is not None:
            raise InputError(f"columns {twin!r} and {column!r} both give {'sd of ' if is_sd else ''}{symbol}; "
                             "keep one", field=column)
        target[column] = symbol
    return means, sds


def material_from_row(row: Row, *, require_source: bool = False) -> Material:
    """A material from a row with the inventory/catalogue columns.

    Columns: ``material, cost_per_kg, co2e_kg_per_kg, recycled, yield``; one column per
    element [wt%]; optional ``sd_<El>`` [wt%], ``isri_code``, ``description``, ``charge_ok``.
    """
    means, sds = element_columns(list(row.values))
    name = row.text("material")
    recycled_raw = row.text("recycled").lower().replace("-", "_").replace(" ", "_")
    try:
        recycled = RecycledCategory(recycled_raw)
    except ValueError:
        allowed = ", ".join(c.value for c in RecycledCategory)
        raise row.error("recycled", f"{recycled_raw!r} is not one of {allowed}") from None
    wt = {}
    for column, symbol in means.items():
        value = row.number_or_none(column, lo=0, hi=100, unit="wt%")
        if value is not None:
            wt[symbol] = value
    try:
        composition = Composition(wt, where=f"{row.file} row {row.line}")
    except CompositionError as exc:
        raise DataFileError(row.file, row.line, None, str(exc).split(": ", 1)[-1]) from None
    sd = {}
    for column, symbol in sds.items():
        value = row.number_or_none(column, lo=0, hi=100, unit="wt%")
        if value:
            sd[symbol] = value
    metal_yield = row.number("yield", lo=0, hi=1, unit="kg/kg")
    if metal_yield == 0:
        raise row.error("yield", "0 kg/kg: a material that yields no metal cannot be charged")
    sources = [row.text(c, required=require_source) for c in ("source_chemistry", "source_cost", "source_co2e")
               if c in row.values or require_source]
    return Material(
        name=name,
        composition=composition,
        sd_wt_pct=sd,
        metal_yield=metal_yield,
        recycled=recycled,
        cost_per_kg=row.number("cost_per_kg", lo=0, unit="USD/kg"),
        co2e_kg_per_kg=row.number("co2e_kg_per_kg", lo=0, unit="kg CO2e/kg"),
        isri_code=row.text("isri_code", required=False),
        description=row.text("description", required=False),
        charge_ok=row.flag("charge_ok", default=True),
        source="; ".join(s for s in sources if s),
    )


MATERIAL_COLUMNS = ("material", "recycled", "yield", "cost_per_kg", "co2e_kg_per_kg")


@cache
def material_catalogue() -> dict[str, Material]:
    """Every material in ``blending/data/materials.csv``, by name."""
    rows = read_package_csv("blending.data", "materials.csv",
                            required_columns=MATERIAL_COLUMNS + ("source_chemistry", "source_cost", "source_co2e"))
    catalogue = {}
    for row in rows:
        material = material_from_row(row, require_source=True)
        if material.name in catalogue:
            raise row.error("material", f"{material.name!r} is listed twice")
        catalogue[material.name] = material
    return catalogue


class UnknownMaterialError(NotFoundError):
    """A material the catalogue does not hold."""


def get_material(name: str) -> Material:
    """The catalogue material named ``name`` (case-insensitive)."""
    catalogue = material_catalogue()
    for key, material in catalogue.items():
        if key.lower() == name.strip().lower():
            return material
    raise UnknownMaterialError(f"unknown material {name!r}; known materials: {', '.join(catalogue)}",
                               field="material")
