"""The charge model: named variables and constraints of one heat, built in one place.

Variables ``v_i``, one per lot: the charged mass as a fraction of the melt mass M
(``x_i = M v_i``) for loose material, or the number of whole units (``x_i = u_i v_i``,
integer) for bales and sows. ``ChargeModel.kg_per_unit`` converts.

Constraints, each named so it can be printed and tested on its own:

* ``mass balance``: M - tol <= H + sum_i y_i x_i <= M + tol (see :mod:`blending.melt`);
* ``furnace capacity``: H + sum_i x_i <= capacity;
* ``max fraction <lot>``: x_k <= f_k sum_i x_i;
* ``min recycled``, ``max cost``: optional, on the recycled metal and the charge cost;
* availability and unit counts: bounds on the variables;
* one chance constraint (a :class:`blending.chance.Cone`) per chemistry bound, written
  against the actual liquid mass L(x) so that it stays exact with a mass tolerance:

      100 m_j(x) - b_j L(x) + z_j sd(100 m_j(x)) <= 0       (max; min is mirrored)

  divided by M, so every cone is in wt% of the melt.

Terms the objectives combine (:mod:`blending.optimise`): ``recycled`` (pre- plus
post-consumer metal over M [kg/kg], ISO 14021), ``cost`` (charge cost over M
[USD/kg metal]) and ``co2`` (materials' cradle-to-gate CO2e over M [kg/kg metal]).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from blending.catalogue.spec import Spec
from blending.chance import Cone, bonferroni, z_score
from blending.errors import InputError
from blending.lot import Lot
from blending.melt import Melt
from blending.solver.program import LinearProgram


@dataclass(frozen=True)
class ChemistryLimit:
    """One bound of the specification as the optimiser sees it.

    ``sense * sum(elements) <= sense * rhs_wt_pct``; an Al minimum is a maximum on the
    sum of every other element (Al is the balance).
    """

    limit: str            # "Fe", "Mn+Cr", "others each (Ga)", "others total", "Al"
    bound: str            # "min" or "max"
    bound_wt_pct: float   # as the specification states it
    elements: tuple[str, ...]
    sense: int            # +1: the sum is at most rhs; -1: at least rhs
    rhs_wt_pct: float

    @property
    def label(self) -> str:
        return f"{self.limit} {self.bound}"


def chemistry_limits(spec: Spec, present: Sequence[str], *, aim: bool = True) -> list[ChemistryLimit]:
    """Every bound to hold: named limits (aim limits where set and ``aim``), others each
    for each ``present`` element without a limit of its own, others total, Al minimum."""
    out: list[ChemistryLimit] = []
    limits = dict(spec.limits)
    if aim and spec.aim:
        limits.update(spec.aim)
    for lim in limits.values():
        if lim.min_wt_pct is not None:
            out.append(ChemistryLimit(lim.name, "min", lim.min_wt_pct, lim.elements, -1, lim.min_wt_pct))
        if lim.max_wt_pct is not None:
            out.append(ChemistryLimit(lim.name, "max", lim.max_wt_pct, lim.elements, +1, lim.max_wt_pct))
    named = spec.named_elements()
    others = tuple(e for e in present if e not in named)
    if spec.others_each_max_wt_pct is not None:
        for e in others:
            out.append(ChemistryLimit(f"others each ({e})", "max", spec.others_each_max_wt_pct, (e,), +1,
                                      spec.others_each_max_wt_pct))
    if spec.others_total_max_wt_pct is not None and others:
        out.append(ChemistryLimit("others total", "max", spec.others_total_max_wt_pct, others, +1,
                                  spec.others_total_max_wt_pct))
    if spec.al_min_wt_pct is not None:
        out.append(ChemistryLimit("Al", "min", spec.al_min_wt_pct, tuple(present), +1, 100 - spec.al_min_wt_pct))
    return out


@dataclass(frozen=True)
class LinearRow:
    """``lo <= coeffs . v <= hi`` with its name and what it means."""

    name: str
    coeffs: np.ndarray
    lo: float
    hi: float
    meaning: str


@dataclass(frozen=True)
class ChargeModel:
    """Everything the optimiser needs for one heat; see the module docstring.

    Build it with :func:`build_charge_model`; add constraints with :meth:`with_row`,
    change the confidence with :meth:`with_confidence`.
    """

    lots: tuple[Lot, ...]
    melt: Melt
    spec: Spec
    elements: tuple[str, ...]
    limits: tuple[ChemistryLimit, ...]
    confidence: tuple[float, ...]
    cones: tuple[Cone, ...]
    rows: tuple[LinearRow, ...]
    lower: np.ndarray
    upper: np.ndarray
    integrality: np.ndarray
    kg_per_unit: np.ndarray
    terms: Mapping[str, np.ndarray]
    joint_confidence: float | None = None
    # lot chemistry matrices [wt%] (lots x elements), yield [kg/kg], recovery [kg/kg]
    mean_wt_pct: np.ndarray | None = None
    sd_wt_pct: np.ndarray | None = None
    metal_yield: np.ndarray | None = None
    recovery: np.ndarray | None = None
    # what build_charge_model was asked besides lots, melt, spec and confidence
    options: Mapping[str, object] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.lots)

    def kg(self, v: np.ndarray) -> np.ndarray:
        """Charged mass per lot [kg] from the variables."""
        return np.asarray(v, dtype=float) * self.kg_per_unit

    def variables(self, x_kg: np.ndarray) -> np.ndarray:
        """Variables from the charged mass per lot [kg]."""
        return np.asarray(x_kg, dtype=float) / self.kg_per_unit

    def term(self, name: str, v: np.ndarray) -> float:
        return float(self.terms[name] @ v)

    def with_row(self, name: str, coeffs: np.ndarray, lo: float = -math.inf, hi: float = math.inf,
                 meaning: str = "") -> ChargeModel:
        """A copy with one more linear constraint ``lo <= coeffs . v <= hi``.

        ``coeffs`` is per variable; use ``model.terms[...]`` for recycled, cost or CO2e, e.g.
        ``model.with_row("min recycled", model.terms["recycled"], lo=0.8)``.
        """
        coeffs = np.asarray(coeffs, dtype=float)
        if coeffs.shape != (self.n,):
            raise InputError(f"constraint {name!r} needs {self.n} coefficients, got {coeffs.shape}")
        return replace(self, rows=self.rows + (LinearRow(name, coeffs, lo, hi, meaning or name),))

    def with_confidence(self, confidence: float | Sequence[float]) -> ChargeModel:
        """A copy whose chance constraints hold with ``confidence`` (one, or one per limit)."""
        conf = _per_limit(confidence, len(self.limits))
        cones = tuple(replace(c, z=z_score(a)) for c, a in zip(self.cones, conf, strict=True))
        return replace(self, confidence=conf, cones=cones)

    def with_lots(self, lots: Sequence[Lot]) -> ChargeModel:
        """The same heat rebuilt over ``lots``; each limit keeps its confidence, a new
        limit (an element no lot had) gets the highest confidence in use. Rows added with
        :meth:`with_row` are not carried over."""
        rebuilt = build_charge_model(lots, self.melt, self.spec, confidence=0.5, **self.options)
        own = dict(zip((lim.label for lim in self.limits), self.confidence, strict=True))
        top = max(self.confidence, default=0.5)
        return rebuilt.with_confidence([own.get(lim.label, top) for lim in rebuilt.limits])

    def stochastic(self) -> np.ndarray:
        """Which limits carry uncertainty at all (a lot or heel with a spread in their elements)."""
        return np.array([bool(np.any(c.d > 0) or c.d0 > 0) for c in self.cones])

    def program(self, c: np.ndarray) -> LinearProgram:
        """The cone program ``min c . v`` over this model, for ``solver.cutting_planes.solve_with_cuts``."""
        A = np.array([r.coeffs for r in self.rows]).reshape(len(self.rows), self.n)
        return LinearProgram(
            c=np.asarray(c, dtype=float), A=A,
            row_lo=np.array([r.lo for r in self.rows]), row_hi=np.array([r.hi for r in self.rows]),
            lower=self.lower, upper=self.upper, integrality=self.integrality, cones=list(self.cones))

    def describe(self) -> str:
        """The model in words, one constraint a line."""
        lines = [f"variables: {self.n} lots ("
                 f"{int(self.integrality.sum())} in whole units), melt {self.melt.mass_kg:g} kg"]
        for r in self.rows:
            lines.append(f"{r.name}: {r.meaning}")
        for lim, conf in zip(self.limits, self.confidence, strict=True):
            lines.append(f"{lim.label}: {'+'.join(lim.elements) if lim.limit != 'Al' else 'sum of non-Al'} "
                         f"{'<=' if lim.sense > 0 else '>='} {lim.rhs_wt_pct:g} wt% with probability {conf:.4g}")
        return "\n".join(lines)


def _per_limit(confidence: float | Sequence[float], k: int) -> tuple[float, ...]:
    if isinstance(confidence, int | float):
        conf = (float(confidence),) * k
    else:
        conf = tuple(float(c) for c in confidence)
        if len(conf) != k:
            raise InputError(f"{len(conf)} confidences given for {k} limits")
    for c in conf:
        z_score(c)  # validates
    return conf


def present_elements(lots: Sequence[Lot], melt: Melt, spec: Spec) -> tuple[str, ...]:
    """Elements in any lot (mean or spread), the heel or the spec, in a stable order."""
    seen: dict[str, None] = {}
    for lot in lots:
        for e in lot.material.composition:
            seen[e] = None
        for e, s in lot.material.sd_wt_pct.items():
            if s > 0:
                seen[e] = None
    for e in melt.heel_composition:
        seen[e] = None
    for e in spec.named_elements():
        seen[e] = None
    return tuple(seen)


def build_charge_model(lots: Sequence[Lot], melt: Melt, spec: Spec, *,
                       confidence: float | Mapping[str, float] = 0.95,
                       joint_confidence: float | None = None,
                       min_recycled_fraction: float | None = None,
                       max_cost: float | None = None,
                       aim: bool = True) -> ChargeModel:
    """The charge model of one heat.

    Parameters
    ----------
    lots : sequence of Lot
        What may be charged.
    melt : Melt
        Liquid mass, heel, capacity and element recoveries.
    spec : Spec
        The target; its aim limits (when set and ``aim``) are what the optimiser holds.
    confidence : float or mapping
        Probability [-] each limit must hold with on its own; a mapping from a limit label
        (``"Fe max"``) to its confidence, others at 0.95. 0.5 gives the ordinary LP.
    joint_confidence : float, optional
        Probability [-] all limits must hold together; overrides ``confidence`` with a
        Bonferroni split over the limits that carry uncertainty (the optimiser then
        reallocates the risk, :func:`blending.optimise.optimise`).
    min_recycled_fraction : float, optional
        Least recycled metal (pre- plus post-consumer) per kg of melt [kg/kg].
    max_cost : float, optional
        Most the charge may cost [USD for the heat].
    """
    lots = tuple(lots)
    if not lots:
        raise InputError("the inventory lists no lots")
    M, H = melt.mass_kg, melt.heel_kg
    elements = present_elements(lots, melt, spec)
    index = {e: j for j, e in enumerate(elements)}
    n, m = len(lots), len(elements)
    C = np.zeros((n, m))
    S = np.zeros((n, m))
    for i, lot in enumerate(lots):
        for e, w in lot.material.composition.items():
            C[i, index[e]] = w
        for e, s in lot.material.sd_wt_pct.items():
            if e in index:
                S[i, index[e]] = s
    y = np.array([lot.material.metal_yield for lot in lots])
    r = np.array([melt.recovery(e) for e in elements])
    heel = np.array([melt.heel_composition[e] for e in elements])
    heel_sd = np.array([float(melt.heel_sd_wt_pct.get(e, 0.0)) for e in elements])

    unit = np.array([lot.unit_kg is not None for lot in lots])
    kg_per_unit = np.where(unit, [lot.unit_kg or 0.0 for lot in lots], M)
    scale = kg_per_unit / M                    # kg per variable unit, per kg of melt
    lower = np.zeros(n)
    upper = np.array([
        math.inf if lot.available_kg is None else
        (lot.max_units if lot.unit_kg is not None else lot.available_kg / M) for lot in lots], dtype=float)
    integrality = unit.astype(int)

    limits = tuple(chemistry_limits(spec, elements, aim=aim))
    cones = []
    for lim in limits:
        cols = [index[e] for e in lim.elements]
        mean = (C[:, cols] * r[cols]).sum(axis=1)
        a = lim.sense * y * (mean - lim.rhs_wt_pct) * scale
        a0 = lim.sense * (H / M) * (heel[cols].sum() - lim.rhs_wt_pct)
        d = y * np.sqrt(((S[:, cols] * r[cols]) ** 2).sum(axis=1)) * scale
        d0 = (H / M) * float(np.sqrt((heel_sd[cols] ** 2).sum()))
        cones.append(Cone(a=a, a0=float(a0), d=d, d0=d0, z=0.0))

    tol = melt.mass_tolerance_kg
    rows = [LinearRow("mass balance", y * scale, (M - tol - H) / M, (M + tol - H) / M,
                      f"heel {H:g} kg + sum of yield x charged = {M:g} kg liquid metal"
                      + (f" +/- {tol:g} kg" if tol else ""))]
    if melt.capacity_kg is not None:
        rows.append(LinearRow("furnace capacity", scale, -math.inf, (melt.capacity_kg - H) / M,
                              f"heel + charged mass <= {melt.capacity_kg:g} kg"))
    for i, lot in enumerate(lots):
        if lot.max_fraction is not None and lot.max_fraction < 1:
            coeffs = -lot.max_fraction * scale
            coeffs[i] += scale[i]
            rows.append(LinearRow(f"max fraction {lot.name}", coeffs, -math.inf, 0.0,
                                  f"{lot.name} <= {lot.max_fraction:g} of the charged mass"))
    recycled = np.array([lot.material.recycled.counts_as_recycled for lot in lots]) * y * scale
    terms = {
        "recycled": recycled,
        "cost": np.array([lot.material.cost_per_kg for lot in lots]) * scale,
        "co2": np.array([lot.material.co2e_kg_per_kg for lot in lots]) * scale,
    }
    if min_recycled_fraction is not None:
        if not 0 <= min_recycled_fraction <= 1:
            raise InputError(f"minimum recycled fraction {min_recycled_fraction:g} must be between 0 and 1")
        rows.append(LinearRow("min recycled", recycled, min_recycled_fraction, math.inf,
                              f"recycled metal >= {min_recycled_fraction:.3g} of the melt"))
    if max_cost is not None:
        if not max_cost >= 0:
            raise InputError(f"maximum cost {max_cost:g} USD must be non-negative")
        rows.append(LinearRow("max cost", terms["cost"], -math.inf, max_cost / M,
                              f"charge cost <= {max_cost:g} USD"))

    model = ChargeModel(lots=lots, melt=melt, spec=spec, elements=elements, limits=limits,
                        confidence=(0.5,) * len(limits), cones=tuple(cones), rows=tuple(rows),
                        lower=lower, upper=upper, integrality=integrality, kg_per_unit=kg_per_unit,
                        terms=terms, joint_confidence=joint_confidence,
                        mean_wt_pct=C, sd_wt_pct=S, metal_yield=y, recovery=r,
                        options={"min_recycled_fraction": min_recycled_fraction, "max_cost": max_cost, "aim": aim})
    if joint_confidence is not None:
        # Bonferroni's equal split to start; blending.optimise.optimise reallocates it
        k = int(model.stochastic().sum())
        per = bonferroni(joint_confidence, k)
        return model.with_confidence([per if s else 0.5 for s in model.stochastic()])
    if isinstance(confidence, Mapping):
        labels = {lim.label for lim in limits}
        unknown = set(confidence) - labels
        if unknown:
            raise InputError(f"confidence given for {', '.join(sorted(unknown))}, which the spec does not limit; "
                             f"limits: {', '.join(sorted(labels))}")
        return model.with_confidence([confidence.get(lim.label, 0.95) for lim in limits])
    return model.with_confidence(confidence)
