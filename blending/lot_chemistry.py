"""A lot's mean chemistry from its classified pieces, and the uncertainty of that mean.

A sorted lot is charged as one material, so the blender needs the lot's mass-weighted mean
composition and the standard deviation **of that mean** (not the spread between pieces). Piece
``i`` of mass ``m_i`` (weight ``w_i = m_i / M``, ``M`` the lot's mass) has a composition estimate
``x_i`` from the classifier; for element ``e``

    x_ie = c_ie + b_g(i),e + eps_ie,

with ``c_ie`` the piece's true content, ``b_ge`` the model's bias for the piece's predicted grade
``g`` (shared by every piece the model reads as ``g`` under the same conditions) and ``eps_ie`` its
random error (independent between pieces, sd ``sigma_ie``). The model card measures, per grade and
element, the mean bias ``beta_ge`` over its evaluation conditions, the random sd ``sigma_ge`` and the
spread ``tau_ge`` of the bias between plasma conditions (:mod:`sorter.training.composition_error`).

The lot's stated mean corrects each piece by its grade's measured bias:

    mu_e = max(0, sum_i w_i (x_ie - beta_g(i),e)).

What remains after that correction is the bias of the conditions the lot was sorted under, whose
sd is ``tau_ge``. The error of ``mu_e`` is ``sum_g W_g (b_ge - beta_ge) + sum_i w_i eps_ie``, with
``W_g`` the mass share of grade ``g``; its standard deviation is

    sd_e = sqrt( sum_i w_i^2 sigma_ie^2  +  (sum_g W_g tau_ge + W_u tau_ue)^2 ).

The first (random) part shrinks as 1/sqrt(n) with the piece count; the second (shared) part does
not. The shared sds of the grades in one lot are added linearly, as if their biases moved
together: one change of plasma conditions shifts every grade's estimate, so this is the
safe choice, and for a lot of one grade it is exact.

**Unknown pieces** (``grade=None``, or a grade the card gives no numbers for) carry no usable bias
figure: they keep their estimate (or, with no estimate, ``unknown_wt_pct``, a prior such as the mean
over the grades the model knows), get no bias correction, and add ``W_u tau_ue`` to the shared
part, ``W_u`` their mass share and ``tau_ue`` (``ShareBias.unknown_sd_wt_pct``) the spread of the
element over everything the piece might be. It does not average out over many unknown pieces,
because the unknowns of one lot may well all be the same wrong alloy.

Limitation: the blender treats lots as independent. Lots sorted under the same conditions share
the residual bias ``b - beta``; charging many lots of one grade from one shift together is then less
safe than the recipe's stated probability (docs/lots.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from blending.errors import InputError

__all__ = ["LotChemistry", "PieceChemistry", "ShareBias", "lot_chemistry"]


@dataclass(frozen=True)
class PieceChemistry:
    """One classified piece.

    Attributes
    ----------
    mass_kg : float
        Mass of the piece [kg], > 0.
    grade : str or None
        Predicted grade; None when the sorter said unknown.
    composition_wt_pct : mapping of str to float
        The classifier's composition estimate [wt%]; may be empty for an unknown piece.
    random_sd_wt_pct : mapping of str to float
        Standard deviation of the estimate's random (per-piece, independent) error [wt%].
    """

    mass_kg: float
    grade: str | None
    composition_wt_pct: Mapping[str, float]
    random_sd_wt_pct: Mapping[str, float]


@dataclass(frozen=True)
class ShareBias:
    """The shared (non-averaging) error of the composition estimates, from the model card.

    Attributes
    ----------
    sd_wt_pct : mapping grade -> element -> float
        Standard deviation of the model's bias for pieces read as that grade, between plasma
        conditions, after the correction by ``bias_wt_pct`` [wt%].
    bias_wt_pct : mapping grade -> element -> float
        The model's measured mean bias (estimate minus truth) per grade [wt%], subtracted from each
        piece's estimate; empty: no correction.
    unknown_sd_wt_pct : mapping element -> float
        The shared sd given to unknown pieces and to grades ``sd_wt_pct`` does not list [wt%];
        an element missing here adds nothing.
    """

    sd_wt_pct: Mapping[str, Mapping[str, float]]
    bias_wt_pct: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    unknown_sd_wt_pct: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LotChemistry:
    """A lot's mass, make-up and mean chemistry with the standard deviation of that mean.

    Attributes
    ----------
    name : str
        The lot's name (the ``material`` of its inventory row).
    mass_kg : float
        Total mass of the pieces [kg].
    piece_count : int
    grade_mix : dict of str to float
        Mass fraction of each predicted grade [kg/kg]; unknown pieces under ``"unknown"``.
    unknown_rate : float
        Fraction of the pieces (by count) that are unknown [-].
    mean_wt_pct : dict of str to float
        Mass-weighted mean composition, bias-corrected [wt%].
    sd_of_mean_wt_pct : dict of str to float
        Standard deviation of the error of ``mean_wt_pct`` [wt%].
    random_sd_wt_pct, shared_sd_wt_pct : dict of str to float
        Its two parts: the random part (shrinks with piece count) and the shared part [wt%];
        ``sd_of_mean = sqrt(random^2 + shared^2)``.
    recycled, metal_yield, cost_per_kg, co2e_kg_per_kg
        What the inventory row says besides chemistry (ISO 14021 category, kg/kg, USD/kg,
        kg CO2e/kg); None leaves the cell blank.
    """

    name: str
    mass_kg: float
    piece_count: int
    grade_mix: dict[str, float]
    unknown_rate: float
    mean_wt_pct: dict[str, float]
    sd_of_mean_wt_pct: dict[str, float]
    random_sd_wt_pct: dict[str, float] = field(default_factory=dict)
    shared_sd_wt_pct: dict[str, float] = field(default_factory=dict)
    recycled: str = "post_consumer"
    metal_yield: float | None = None
    cost_per_kg: float | None = None
    co2e_kg_per_kg: float | None = None
    charge_ok: bool = True

    def interval_wt_pct(self, element: str, z: float = 1.959963984540054) -> tuple[float, float]:
        """The interval ``mean -/+ z sd`` of one element [wt%] (default z: 95% two-sided)."""
        mean, sd = self.mean_wt_pct[element], self.sd_of_mean_wt_pct[element]
        return mean - z * sd, mean + z * sd

    def inventory_row(self) -> dict[str, str]:
        """The lot as a row of the inventory CSV that ``aluloop blend --inventory`` reads:
        ``material, available_kg, recycled, yield, cost_per_kg, co2e_kg_per_kg, description``,
        ``charge_ok``, one column per element mean and ``sd_<El>`` per element [wt%].

        Estimates of a lot of nearly pure metal (a copper or brass bin) can sum past 100 wt% by
        their own error; the row then scales its means down to sum to 100 and says so in
        ``description``, since the inventory refuses a sum over 100.
        """
        def cell(value: float | None, fmt: str = ".6g") -> str:
            return "" if value is None else format(value, fmt)

        mix = ", ".join(f"{g} {f:.1%}" for g, f in sorted(self.grade_mix.items(), key=lambda kv: -kv[1]))
        row = {"material": self.name, "available_kg": cell(self.mass_kg, ".3f"), "recycled": self.recycled,
               "yield": cell(self.metal_yield), "cost_per_kg": cell(self.cost_per_kg),
               "co2e_kg_per_kg": cell(self.co2e_kg_per_kg),
               "description": f"sorted lot of {self.piece_count} pieces ({mix}); unknown {self.unknown_rate:.1%}",
               "charge_ok": "true" if self.charge_ok else "false"}
        total = math.fsum(v for e, v in self.mean_wt_pct.items() if e != "Al")
        scale = 1.0
        if total > 100.0:
            scale = 99.999 / total   # a little under 100, so that the written digits cannot sum past it
            row["description"] += f"; means scaled by {scale:.5f} to sum to 100 wt%"
        for element, value in self.mean_wt_pct.items():
            if element != "Al":
                row[element] = format(value * scale, ".6g")
        for element, value in self.sd_of_mean_wt_pct.items():
            if element != "Al":
                row[f"sd_{element}"] = format(value, ".6g")
        return row


def _finite_non_negative(value: float, what: str, field_name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} is {value!r}; must be a number", field=field_name) from None
    if not (math.isfinite(number) and number >= 0):
        raise InputError(f"{what} is {number:g}; must be a finite number >= 0", field=field_name)
    return number


def lot_chemistry(pieces: Sequence[PieceChemistry], shared: ShareBias | None = None, *, name: str,
                  unknown_wt_pct: Mapping[str, float] | None = None, recycled: str = "post_consumer",
                  metal_yield: float | None = None, cost_per_kg: float | None = None,
                  co2e_kg_per_kg: float | None = None, charge_ok: bool = True) -> LotChemistry:
    """The mean chemistry of a lot and the standard deviation of that mean (see the module notes).

    Parameters
    ----------
    pieces : sequence of PieceChemistry
        The lot's pieces (at least one).
    shared : ShareBias, optional
        The model card's bias figures; None: no bias correction and no shared part (only right
        for a model whose errors are independent between pieces).
    name : str
        The lot's name.
    unknown_wt_pct : mapping, optional
        Composition [wt%] given to a piece with no estimate for an element (a prior); without it
        such a piece is an :class:`InputError` naming it.
    recycled, metal_yield, cost_per_kg, co2e_kg_per_kg, charge_ok
        Carried to the inventory row (ISO 14021 category, kg/kg, USD/kg, kg CO2e/kg, whether the
        lot may go into an aluminium heat).

    Returns
    -------
    LotChemistry

    Examples
    --------
    >>> p = [PieceChemistry(1.0, "3104", {"Mn": 1.0}, {"Mn": 0.1}),
    ...      PieceChemistry(3.0, "3104", {"Mn": 1.2}, {"Mn": 0.1})]
    >>> lot = lot_chemistry(p, ShareBias({"3104": {"Mn": 0.02}}), name="bin 1")
    >>> round(lot.mean_wt_pct["Mn"], 3), round(lot.sd_of_mean_wt_pct["Mn"], 4)
    (1.15, 0.0815)
    """
    if not name or not str(name).strip():
        raise InputError("a lot needs a name", field="name")
    if not pieces:
        raise InputError(f"lot {name}: no pieces; a lot needs at least one", field="pieces")
    masses = [_finite_non_negative(p.mass_kg, f"lot {name}: piece {i + 1} mass_kg", f"pieces[{i}].mass_kg")
              for i, p in enumerate(pieces)]
    for i, m in enumerate(masses):
        if m == 0:
            raise InputError(f"lot {name}: piece {i + 1} mass_kg is 0; a piece must weigh something",
                             field=f"pieces[{i}].mass_kg")
    total = math.fsum(masses)
    weights = [m / total for m in masses]
    elements = list(dict.fromkeys(e for p in pieces for e, v in p.composition_wt_pct.items() if v is not None))
    if unknown_wt_pct:
        elements += [e for e in unknown_wt_pct if e not in elements]
    sd_table = {} if shared is None else shared.sd_wt_pct
    bias_table = {} if shared is None else shared.bias_wt_pct
    unknown_sd = {} if shared is None else shared.unknown_sd_wt_pct

    mean_sum = {e: [] for e in elements}
    random_var = {e: [] for e in elements}
    grade_mass: dict[str, float] = {}
    unknown_count = 0
    for i, (p, w) in enumerate(zip(pieces, weights, strict=True)):
        grade = None if p.grade is None or not str(p.grade).strip() else str(p.grade)
        key = "unknown" if grade is None else grade
        grade_mass[key] = grade_mass.get(key, 0.0) + masses[i]
        unknown_count += grade is None
        bias = bias_table.get(grade, {}) if grade is not None else {}
        for e in elements:
            value = p.composition_wt_pct.get(e)
            if value is None:
                if unknown_wt_pct is None or e not in unknown_wt_pct:
                    raise InputError(f"lot {name}: piece {i + 1} has no {e} estimate and no prior was given "
                                     "for pieces without one", field=f"pieces[{i}].composition_wt_pct.{e}")
                value = unknown_wt_pct[e]
            value = _finite_non_negative(value, f"lot {name}: piece {i + 1} {e}", f"pieces[{i}].composition_wt_pct.{e}")
            sd = _finite_non_negative(p.random_sd_wt_pct.get(e, 0.0), f"lot {name}: piece {i + 1} sd of {e}",
                                      f"pieces[{i}].random_sd_wt_pct.{e}")
            mean_sum[e].append(w * (value - float(bias.get(e, 0.0))))
            random_var[e].append((w * sd) ** 2)

    shared_sd = {}
    for e in elements:
        parts = []
        for g, m in grade_mass.items():
            share = m / total
            if g != "unknown" and g in sd_table:
                parts.append(share * float(sd_table[g].get(e, 0.0)))
            else:   # unknown pieces, and a grade the card has no figure for
                parts.append(share * float(unknown_sd.get(e, 0.0)))
        shared_sd[e] = math.fsum(parts)
    random_sd = {e: math.sqrt(math.fsum(random_var[e])) for e in elements}
    return LotChemistry(
        name=str(name), mass_kg=total, piece_count=len(pieces),
        grade_mix={g: m / total for g, m in grade_mass.items()},
        unknown_rate=unknown_count / len(pieces),
        mean_wt_pct={e: max(0.0, math.fsum(mean_sum[e])) for e in elements},
        sd_of_mean_wt_pct={e: math.hypot(random_sd[e], shared_sd[e]) for e in elements},
        random_sd_wt_pct=random_sd, shared_sd_wt_pct=shared_sd,
        recycled=recycled, metal_yield=metal_yield, cost_per_kg=cost_per_kg, co2e_kg_per_kg=co2e_kg_per_kg,
        charge_ok=charge_ok)
