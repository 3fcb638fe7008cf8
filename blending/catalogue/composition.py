"""Chemical composition of an aluminium alloy, scrap lot or melt, in wt%.

Aluminium is the balance: it is never stored, only derived as 100 minus the
sum of the other elements, which is how alloy specifications state it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from blending.catalogue.tables import read_package_csv
from blending.errors import InputError

# An analysis that states Al may differ from the balance by rounding and by
# unreported trace elements; more than this means the analysis is not consistent.
AL_BALANCE_TOLERANCE_WT_PCT = 0.5


@dataclass(frozen=True)
class Element:
    symbol: str
    name: str
    atomic_number: int
    atomic_mass_u: float
    source: str


@cache
def elements() -> dict[str, Element]:
    """The periodic table as shipped in ``blending/data/elements.csv``, by symbol."""
    table = {}
    for row in read_package_csv("blending.data", "elements.csv",
                                required_columns=("symbol", "name", "atomic_number", "atomic_mass_u", "source")):
        symbol = row.text("symbol")
        table[symbol] = Element(symbol, row.text("name"), int(row.number("atomic_number", lo=1)),
                                row.number("atomic_mass_u", lo=0), row.text("source"))
    return table


def is_element(symbol: str) -> bool:
    return symbol in elements()


class CompositionError(InputError):
    """A composition that is not physically possible or names an unknown element."""


class Composition(Mapping[str, float]):
    """Element symbol to wt%, aluminium by difference.

    Parameters
    ----------
    wt_pct : mapping of str to float
        Mass fractions [wt%] of elements other than aluminium. An ``"Al"`` entry is
        accepted when it agrees with the balance within 0.5 wt% and is then dropped.
    where : str
        Names the origin of the numbers in error messages, e.g. ``"inventory.csv row 7"``.

    Examples
    --------
    >>> c = Composition({"Mg": 4.5, "Mn": 0.35, "Fe": 0.25})
    >>> round(c.al_wt_pct, 2)
    94.9
    >>> c["Si"]
    0.0
    """

    __slots__ = ("_wt_pct",)

    def __init__(self, wt_pct: Mapping[str, float], *, where: str = "composition"):
        known = elements()
        clean: dict[str, float] = {}
        al_given = None
        for symbol, value in wt_pct.items():
            if symbol not in known:
                raise CompositionError(f"{where}: {symbol!r} is not an element symbol")
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise CompositionError(f"{where}, {symbol}: {value!r} is not a number") from None
            if not math.isfinite(value) or value < 0 or value > 100:
                raise CompositionError(f"{where}, {symbol}: {value:g} wt% must be between 0 and 100")
            if symbol == "Al":
                al_given = value
            elif value > 0:
                clean[symbol] = value
        total = sum(clean.values())
        if total > 100 + 1e-9:
            raise CompositionError(f"{where}: elements other than Al sum to {total:g} wt%, more than 100")
        if al_given is not None and abs(al_given - (100 - total)) > AL_BALANCE_TOLERANCE_WT_PCT:
            raise CompositionError(
                f"{where}, Al: {al_given:g} wt% disagrees with the balance {100 - total:.3f} wt% "
                f"by more than {AL_BALANCE_TOLERANCE_WT_PCT} wt%")
        self._wt_pct = dict(sorted(clean.items(), key=lambda kv: known[kv[0]].atomic_number))

    def __getitem__(self, symbol: str) -> float:
        if symbol == "Al":
            return self.al_wt_pct
        if symbol in self._wt_pct:
            return self._wt_pct[symbol]
        if symbol in elements():
            return 0.0
        raise KeyError(symbol)

    def __iter__(self) -> Iterator[str]:
        return iter(self._wt_pct)

    def __len__(self) -> int:
        return len(self._wt_pct)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v:g}" for k, v in self._wt_pct.items())
        return f"Composition({body}; Al={self.al_wt_pct:.3f})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Composition):
            return self._wt_pct == other._wt_pct
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._wt_pct.items()))

    @property
    def al_wt_pct(self) -> float:
        """Aluminium by difference [wt%]."""
        return 100.0 - sum(self._wt_pct.values())

    def as_dict(self, *, with_al: bool = False) -> dict[str, float]:
        out = dict(self._wt_pct)
        if with_al:
            out["Al"] = self.al_wt_pct
        return out

    def atomic_fractions(self) -> dict[str, float]:
        """Mole fractions of every element including Al [-] (n_e proportional to w_e / M_e)."""
        table = elements()
        moles = {s: w / table[s].atomic_mass_u for s, w in self.as_dict(with_al=True).items() if w > 0}
        total = sum(moles.values())
        return {s: n / total for s, n in moles.items()}
