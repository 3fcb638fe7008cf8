"""Pareto fronts: recycled content against charge cost, and against CO2e.

Epsilon-constraint method (Haimes, Lasdon and Wismer, IEEE Trans. Syst. Man Cybern.
1 (1971) 296; Miettinen, *Nonlinear Multiobjective Optimization*, 1999, ch. 3.2): for
recycled levels R_k spread evenly from the recycled content of the cheapest (or
cleanest) charge to the most recycled charge the spec allows, solve

    min cost(x)   subject to   recycled(x) >= R_k,  the charge model's rows and cones

and the same for CO2e. Every point is then weakly Pareto optimal, and, as the cone
program is convex, cost is a non-decreasing convex function of R_k. Every cut of the
outer approximation of the chance constraints (:mod:`blending.solver.outer_approximation`)
is valid whatever the objective and level, so one HiGHS model carries its cuts and
basis from point to point and later points need few or no new cutting rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from blending.charge_model import ChargeModel
from blending.diagnosis import diagnose
from blending.errors import InfeasibleError, InputError, SolverError
from blending.optimise import LEXICOGRAPHIC_TOLERANCE
from blending.solver.outer_approximation import Lifted, rounds
from blending.solver.program import CONE_TOLERANCE_WT_PCT, ConeStack, LinearProgram

FRONT_TERMS = ("cost", "co2")


@dataclass(frozen=True)
class ParetoPoint:
    """One charge on a front."""

    recycled_fraction: float   # pre- plus post-consumer metal over the melt mass [kg/kg]
    cost: float                # charge cost of the heat [USD]
    co2e_kg: float             # materials' cradle-to-gate CO2e of the heat [kg]
    charge_kg: tuple[float, ...]  # per lot [kg]

    def summary(self, names: tuple[str, ...], top: int = 3) -> str:
        """The largest few lots of the charge, e.g. ``UBC 12.0 t, P1020 4.1 t``."""
        order = np.argsort(self.charge_kg)[::-1][:top]
        return ", ".join(f"{names[i]} {self.charge_kg[i] / 1000:.1f} t" for i in order if self.charge_kg[i] > 0.5)


@dataclass(frozen=True)
class ParetoFront:
    """Fronts of cost and of CO2e against recycled content for one heat.

    ``fronts["cost"]`` minimises cost at each recycled level, ``fronts["co2"]`` CO2e.
    ``chosen`` is the default recipe (most recycled, then cheapest): the right end.
    """

    spec: str
    mass_kg: float
    lots: tuple[str, ...]
    fronts: dict[str, tuple[ParetoPoint, ...]]
    rounds: int = 0
    extra: dict = field(default_factory=dict)

    def knee(self, term: str) -> int:
        """Index of the knee of a front: the point farthest from the chord joining its ends,
        both axes scaled to [0, 1] (Das, Struct. Optim. 18 (1999) 107, normal boundary idea)."""
        pts = self.fronts[term]
        if len(pts) < 3:
            return len(pts) - 1
        r = np.array([p.recycled_fraction for p in pts])
        y = np.array([p.cost if term == "cost" else p.co2e_kg for p in pts])
        rs = (r - r[0]) / (r[-1] - r[0]) if r[-1] > r[0] else np.zeros_like(r)
        span = y.max() - y.min()
        ys = (y - y.min()) / span if span > 0 else np.zeros_like(y)
        # distance below the chord from the first to the last point
        d = (ys[0] + (ys[-1] - ys[0]) * rs) - ys
        return int(np.argmax(d))

    def to_json(self) -> dict:
        return {
            "spec": self.spec, "mass_kg": self.mass_kg, "lots": list(self.lots),
            **{f"{term}_front": [
                {"recycled_fraction": p.recycled_fraction, "cost": p.cost, "co2e_kg": p.co2e_kg,
                 "charge_kg": dict(zip(self.lots, p.charge_kg, strict=True)), "summary": p.summary(self.lots)}
                for p in pts] for term, pts in self.fronts.items()},
            "knee": {term: self.knee(term) for term in self.fronts},
        }


def _point(model: ChargeModel, v: np.ndarray) -> ParetoPoint:
    M = model.melt.mass_kg
    return ParetoPoint(model.term("recycled", v), M * model.term("cost", v), M * model.term("co2", v),
                       tuple(float(x) for x in model.kg(v)))


def pareto_front(model: ChargeModel, points: int = 50, *, terms: tuple[str, ...] = FRONT_TERMS,
                 whole_units: bool = False) -> ParetoFront:
    """Epsilon-constraint fronts of ``terms`` against recycled content.

    Parameters
    ----------
    model : ChargeModel
        The heat (lots, melt, spec, confidence), as for :func:`blending.optimise.solve`.
    points : int
        Points per front, ends included.
    terms : tuple of str
        Which fronts: ``"cost"`` [USD] and/or ``"co2"`` [kg CO2e].

    The left end of each front is the recycled content of the charge that is cheapest
    (lowest in CO2e), most recycled among equals; the right end is the most recycled
    charge, held to the relative tolerance the lexicographic solve uses
    (:data:`blending.optimise.LEXICOGRAPHIC_TOLERANCE`), so both ends equal the
    single-objective optima of :func:`blending.optimise.solve`. A model with no
    feasible charge raises ValueError.

    Lots charged in whole bales or sows are relaxed to loose material unless
    ``whole_units``: a front is a planning view, rounding moves a point by at most one
    unit per lot, and a MILP per point would cost far more solve time.
    """
    if not whole_units:
        model = replace(model, integrality=np.zeros_like(model.integrality))
    if points < 2:
        raise InputError(f"a front needs at least 2 points, not {points}")
    for term in terms:
        if term not in FRONT_TERMS:
            raise InputError(f"front {term!r} is not one of {', '.join(FRONT_TERMS)}")
    recycled = model.terms["recycled"]
    sweep = _WarmSweep(model.program(np.zeros(model.n)))
    level = sweep.add_row(recycled)
    top = sweep.solve(-recycled)
    if top is None:
        diagnosis = diagnose(model)
        raise InfeasibleError(f"no charge meets {model.spec.name} at the stated confidence with this inventory: "
                              + "; ".join(sf.sentence.rstrip(".") for sf in diagnosis.shortfalls), diagnosis)
    r_max = float(recycled @ top)
    r_hi = r_max - LEXICOGRAPHIC_TOLERANCE * max(1.0, abs(r_max))
    fronts: dict[str, tuple[ParetoPoint, ...]] = {}
    for term in terms:
        # the left end, as the core's lexicographic solve finds it: least term, then most recycled
        c = model.terms[term]
        hold = sweep.add_row(c)
        best = float(c @ sweep.solve(c))
        sweep.set_bounds(hold, -np.inf, best + LEXICOGRAPHIC_TOLERANCE * max(1.0, abs(best)))
        r_lo = min(float(recycled @ sweep.solve(-recycled)), r_hi)
        sweep.set_bounds(hold, -np.inf, np.inf)
        out = []
        for r in np.linspace(r_lo, r_hi, points):
            sweep.set_bounds(level, float(r), np.inf)
            v = sweep.solve(c)
            if v is None:  # cannot happen: the most recycled charge meets every level
                raise SolverError(f"front point at recycled {r:.6f} found no charge")
            out.append(_point(model, v))
        sweep.set_bounds(level, -np.inf, np.inf)
        fronts[term] = tuple(out)
    rounds = sweep.rounds
    return ParetoFront(model.spec.name, model.melt.mass_kg, tuple(lot.name for lot in model.lots), fronts, rounds)


class _WarmSweep:
    """One kept-alive HiGHS model of the core's outer approximation
    (:class:`blending.solver.outer_approximation.Lifted`) across the points of a front: extra rows
    (the recycled level, an objective hold) move their bounds and the objective changes
    between points, the cuts stay, and each re-solve starts from the last simplex basis."""

    def __init__(self, lp: LinearProgram):
        self.n = lp.c.size
        self.stack = ConeStack(lp.cones, self.n)
        self.lifted = Lifted(lp, lp.lower, lp.upper)
        self.rounds = 0

    def add_row(self, coeffs: np.ndarray) -> int:
        """A free row ``coeffs . v``; bound it with :meth:`set_bounds`. Its index."""
        return self.lifted.add_row(coeffs, -np.inf, np.inf)

    def set_bounds(self, row: int, lo: float, hi: float) -> None:
        self.lifted.set_row_bounds(row, lo, hi)

    def solve(self, c: np.ndarray) -> np.ndarray | None:
        """min c.v over the rows, bounds and cones (to the core's tolerance); None when infeasible."""
        self.lifted.set_objective(np.asarray(c, dtype=float))
        x, n, _ = rounds(self.lifted, self.stack, CONE_TOLERANCE_WT_PCT)
        self.rounds += n
        return None if x is None else x[:self.n]


def plot_pareto(front: ParetoFront, path: str | Path) -> Path:
    """Two panels, recycled content against cost and against CO2e per tonne of melt,
    with the knee of each front and the default (most recycled) recipe marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    terms = [t for t in FRONT_TERMS if t in front.fronts]
    fig, axes = plt.subplots(1, len(terms), figsize=(5.5 * len(terms), 4.3), squeeze=False)
    per_t = 1000 / front.mass_kg
    labels = {"cost": "charge cost [USD/t melt]", "co2": "materials CO2e [kg/t melt]"}
    for ax, term in zip(axes[0], terms, strict=True):
        pts = front.fronts[term]
        r = np.array([100 * p.recycled_fraction for p in pts])
        y = np.array([(p.cost if term == "cost" else p.co2e_kg) * per_t for p in pts])
        ax.plot(r, y, "-o", ms=3, color="#1f4e79", label=f"least {'cost' if term == 'cost' else 'CO2e'} "
                                                         "at each recycled level")
        k = front.knee(term)
        ax.scatter([r[k]], [y[k]], s=90, facecolors="none", edgecolors="#c0392b", lw=2, zorder=3,
                   label=f"knee: {r[k]:.2f}% recycled")
        ax.scatter([r[-1]], [y[-1]], marker="*", s=160, color="#2e7d32", zorder=3,
                   label=f"default recipe (most recycled): {r[-1]:.2f}%")
        ax.set_xlabel("recycled content (ISO 14021) [% of melt]")
        ax.set_ylabel(labels[term])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{front.spec}, {front.mass_kg:,.0f} kg melt: {len(front.fronts[terms[0]])}-point Pareto fronts")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
