"""Is a sorted lot's stated chemistry honest? A simulated belt, its lots, and a 3104 heat charged from them.

    python -m bench.lot_uncertainty [--pieces 20000] [--shifts 10] [--replicates 300] [--quick]

The belt: ``--pieces`` simulated 16-shot pieces of a UBC-and-sheet mix (:data:`MIX`), compositions
drawn inside each grade's limits as the training sets draw them, masses lognormal around 0.5 kg.
The line runs ``--shifts`` shifts; each shift runs under one condition cell drawn from
:data:`sorter.training.composition_error.CONDITIONS` (plasma temperature third x gate spread x
noise level inside the training ranges), because a model's bias moves with the conditions and
they hold for a while. The bundled broadband model (:class:`sorter.serving.Sorter`, batched)
classifies every piece; each shift's pieces go into one lot per accepted grade and one of unknown
pieces, built by ``aluloop lots build``'s code from the model card's error figures.

1. **Coverage**: for every lot and major element (Si, Fe, Cu, Mn, Mg, Zn), is the true
   mass-weighted mean inside the lot's stated 95% interval (target: >= 90% of pairs)? And the
   width ratio: the stated intervals against the narrowest intervals of the same shape (the stated
   sd times one common factor) that still cover 90% of pairs (target: <= 3). Baseline in the same
   run: the random part alone, as if every error averaged out over the pieces.
2. **Heat**: a ``--heat-kg`` heat of 3104 at 95% joint confidence from those lots
   plus P1020 and hardeners (``blending.plan.plan_charge``). Its probability of landing in spec is
   checked by a Monte Carlo over the lots' true compositions: in each replicate every shift is
   replaced by a shift drawn at random (its conditions and its pieces: another yard like this one,
   whose lots of one shift still share their conditions), every lot rebuilt from as many pieces of
   its grade from that shift (drawn with replacement), its stated chemistry recomputed, the heat
   re-planned on that, and the heat's true chemistry (the lots' true means, primary and hardeners
   drawn from their catalogue spread) checked against the 3104 limits (target: >= 94.5% in spec).
"""

from __future__ import annotations

import argparse
import math
import pickle
import time
from pathlib import Path

import numpy as np

from bench.results import Figure, write

MIX = {"3104": 0.34, "5182": 0.14, "3003": 0.10, "1050A": 0.08, "5052": 0.08, "5754": 0.06, "6063": 0.08,
       "6061": 0.06, "A380": 0.06}
MAJORS = ("Si", "Fe", "Cu", "Mn", "Mg", "Zn")
Z95 = 1.959963984540054
MODEL = "broadband"
BELT_SEED = 7100           # shift k, grade j: seed BELT_SEED * 100 + 10 * k + j
PRICED_LIKE = "old mixed sheet"   # the lots' yield, price and CO2e, as `aluloop lots build` defaults
ADDITIONS = ("P1020", "Mn 75 tablets", "Mg ingot", "Al-Cu 50")


def simulate_belt(n_pieces: int, n_shifts: int, seed: int, progress=print):
    """Pieces of :data:`MIX` over ``n_shifts`` shifts, each under its own condition cell.

    Returns a dict of arrays: ``shift``, ``label`` (true grade), ``mass_kg``, ``true`` (n, k) and
    ``elements`` (its columns), ``records`` (``aluloop classify --json`` objects with mass_kg)."""
    from sorter.serving import Sorter
    from sorter.training.composition_error import CONDITIONS, simulate_condition

    rng = np.random.default_rng(seed)
    cells = rng.choice(len(CONDITIONS), size=n_shifts, replace=n_shifts > len(CONDITIONS))
    grades = list(MIX)
    sorter = Sorter()
    per_shift = np.full(n_shifts, n_pieces // n_shifts)
    per_shift[: n_pieces - per_shift.sum()] += 1
    shift, label, true_rows, records = [], [], [], []
    elements: list[str] = []
    for k in range(n_shifts):
        counts = rng.multinomial(per_shift[k], list(MIX.values()))
        condition = CONDITIONS[int(cells[k])]
        for j, (grade, n) in enumerate(zip(grades, counts, strict=True)):
            if n == 0:
                continue
            batch = simulate_condition("broadband", [grade], int(n), seed * 100 + 10 * k + j, condition)
            results = sorter.classify_array(batch.wavelength_nm, batch.intensity, instrument="broadband", model=MODEL)
            for e in batch.elements:
                if e not in elements and e != "Al":
                    elements.append(e)
            for i, r in enumerate(results):
                records.append(r.to_json(f"shift{k}-{grade}-{i}"))
                true_rows.append({e: float(v) for e, v in zip(batch.elements, batch.composition_wt_pct[i],
                                                              strict=True) if e != "Al"})
            shift += [k] * int(n)
            label += [grade] * int(n)
        progress(f"  shift {k + 1}/{n_shifts} ({condition.name}): {per_shift[k]} pieces simulated and classified")
    mass = rng.lognormal(math.log(0.5), 0.5, len(records))
    for rec, m in zip(records, mass, strict=True):
        rec["mass_kg"] = float(m)
    true = np.array([[row.get(e, 0.0) for e in elements] for row in true_rows])
    return {"shift": np.array(shift), "label": np.array(label), "mass_kg": mass, "true": true,
            "elements": elements, "records": records, "cells": cells}


def lot_keys(belt) -> np.ndarray:
    """Each piece's lot within its shift: its accepted grade, or "unknown"."""
    return np.array([r["grade"] if r["decision"] == "accept" and r["grade"] else "unknown" for r in belt["records"]])


def build(belt, figures, members_by_lot):
    """LotChemistry and the true mass-weighted mean of each lot (``{name: piece indices}``)."""
    from aluloop.commands.lots import piece_from_record
    from blending.catalogue.materials import get_material
    from blending.lot_chemistry import ShareBias, lot_chemistry

    like = get_material(PRICED_LIKE)
    shared = ShareBias(figures["sd_wt_pct"], bias_wt_pct=figures["bias_wt_pct"],
                       unknown_sd_wt_pct=figures["unknown_sd_wt_pct"])
    out = {}
    for name, idx in members_by_lot.items():
        pieces = [piece_from_record(belt["records"][i], figures) for i in idx]
        lot = lot_chemistry(pieces, shared, name=name, unknown_wt_pct=figures["unknown_wt_pct"],
                            metal_yield=like.metal_yield, cost_per_kg=like.cost_per_kg,
                            co2e_kg_per_kg=like.co2e_kg_per_kg)
        w = belt["mass_kg"][idx] / belt["mass_kg"][idx].sum()
        out[name] = (lot, dict(zip(belt["elements"], w @ belt["true"][idx], strict=True)))
    return out


def coverage(lots) -> dict:
    """Coverage of the true means by the stated 95% intervals over (lot, major element) pairs, and the
    width ratio to the narrowest common-factor intervals covering 90%; also for the random part alone."""
    z, z_random, which = [], [], []
    for lot, truth in lots.values():
        for e in MAJORS:
            which.append(e)
            err = truth.get(e, 0.0) - lot.mean_wt_pct[e]
            sd, sd_r = lot.sd_of_mean_wt_pct[e], lot.random_sd_wt_pct[e]
            z.append(abs(err) / sd if sd > 0 else (0.0 if err == 0 else math.inf))
            z_random.append(abs(err) / sd_r if sd_r > 0 else (0.0 if err == 0 else math.inf))
    z, z_random = np.array(z), np.array(z_random)
    need = float(np.quantile(z, 0.90)) / Z95     # factor on the stated interval that covers 90% of pairs
    return {"pairs": int(z.size), "coverage": float(np.mean(z <= Z95)), "width_ratio": 1.0 / need if need > 0
            else math.inf, "coverage_random_only": float(np.mean(z_random <= Z95)),
            "max_abs_z": float(z.max()),
            "by_element": {e: float(np.mean(z[np.array(which) == e] <= Z95)) for e in MAJORS}}


def additions():
    from blending.catalogue.materials import get_material
    from blending.lot import Lot

    return [Lot(get_material(name)) for name in ADDITIONS]


def plan(lots, heat_kg: float, draws: int):
    from blending.catalogue.tables import Row
    from blending.lot import lot_from_row
    from blending.plan import ChargeRequest, plan_charge

    # through the inventory row, as `aluloop blend --inventory lots.csv` reads it
    inventory = [lot_from_row(Row("lots.csv", i + 2, lot.inventory_row())) for i, (lot, _) in enumerate(lots.values())]
    return plan_charge(ChargeRequest("3104", heat_kg, inventory + additions(), joint_confidence=0.95, draws=draws))


def true_heat(recipe, truths: dict[str, dict[str, float]], rng) -> dict[str, float]:
    """The heat's true chemistry [wt%]: lots at their true means, catalogue materials drawn from their spread."""
    from blending.catalogue.materials import get_material

    element_kg: dict[str, float] = {}
    liquid = 0.0
    for line in recipe.lines:
        if line.mass_kg <= 0:
            continue
        if line.material in truths:
            from_name = truths[line.material]
            metal_yield = get_material(PRICED_LIKE).metal_yield   # what the lots' inventory rows say
        else:
            m = get_material(line.material)
            from_name = {e: max(0.0, rng.normal(v, m.sd(e))) for e, v in m.composition.items() if e != "Al"}
            metal_yield = m.metal_yield
        metal = line.mass_kg * metal_yield
        liquid += metal
        for e, v in from_name.items():
            element_kg[e] = element_kg.get(e, 0.0) + metal * recipe.recoveries.get(e, 1.0) * v / 100
    return {e: 100 * kg / recipe.liquid_kg for e, kg in element_kg.items()}


def violations(chemistry: dict[str, float]) -> list[str]:
    """The 3104 limits the chemistry [wt%] breaks (empty: in spec)."""
    from blending.catalogue.composition import Composition
    from blending.catalogue.spec import get_alloy

    verdict = get_alloy("3104").check(Composition({e: v for e, v in chemistry.items() if v > 0}))
    return [f"{m.limit} {m.bound}" for m in verdict.violations]


class PieceTable:
    """Every piece's bias-corrected estimate, random variance and shared sd as arrays, so that a yard of
    lots is rebuilt in a few array products: ``mean = max(0, w @ corrected)``, ``sd = sqrt(w^2 @ variance
    + (w @ shared)^2)``, the sums of :func:`blending.lot_chemistry.lot_chemistry` (checked against it)."""

    def __init__(self, belt, figures):
        from aluloop.commands.lots import piece_from_record

        self.belt = belt
        self.elements = list(figures["unknown_wt_pct"])
        n, k = len(belt["records"]), len(self.elements)
        self.corrected, self.variance, self.shared = np.zeros((n, k)), np.zeros((n, k)), np.zeros((n, k))
        for i, rec in enumerate(belt["records"]):
            piece = piece_from_record(rec, figures)
            known = piece.grade is not None and piece.grade in figures["sd_wt_pct"]
            bias = figures["bias_wt_pct"].get(piece.grade, {}) if piece.grade is not None else {}
            tau = figures["sd_wt_pct"][piece.grade] if known else figures["unknown_sd_wt_pct"]
            for j, e in enumerate(self.elements):
                value = piece.composition_wt_pct.get(e, figures["unknown_wt_pct"][e])
                self.corrected[i, j] = value - bias.get(e, 0.0)
                self.variance[i, j] = piece.random_sd_wt_pct.get(e, 0.0) ** 2
                self.shared[i, j] = tau.get(e, 0.0)

    def lots(self, members_by_lot):
        from blending.catalogue.materials import get_material
        from blending.lot_chemistry import LotChemistry

        like = get_material(PRICED_LIKE)
        out = {}
        for name, idx in members_by_lot.items():
            mass = self.belt["mass_kg"][idx]
            w = mass / mass.sum()
            mean = np.maximum(0.0, w @ self.corrected[idx])
            random_sd = np.sqrt((w ** 2) @ self.variance[idx])
            shared = w @ self.shared[idx]
            lot = LotChemistry(name, float(mass.sum()), int(idx.size), {}, 0.0,
                               dict(zip(self.elements, mean.tolist(), strict=True)),
                               dict(zip(self.elements, np.hypot(random_sd, shared).tolist(), strict=True)),
                               dict(zip(self.elements, random_sd.tolist(), strict=True)),
                               dict(zip(self.elements, shared.tolist(), strict=True)),
                               metal_yield=like.metal_yield, cost_per_kg=like.cost_per_kg,
                               co2e_kg_per_kg=like.co2e_kg_per_kg)
            out[name] = (lot, dict(zip(self.belt["elements"], w @ self.belt["true"][idx], strict=True)))
        return out


def replicate_yard(table: PieceTable, lots_index, rng):
    """Another yard like the belt's: every shift re-run under the conditions of a shift drawn at random
    (so the lots of one shift keep sharing their conditions, as on a real line), each lot rebuilt from
    as many pieces of its grade, drawn with replacement from that shift's pieces."""
    shifts = table.belt["shift"]
    keys = table.belt["keys"]
    names = np.unique(shifts)
    mapping = {s: names[rng.integers(names.size)] for s in names}
    members = {}
    for name, idx in lots_index.items():
        key, own = keys[idx[0]], shifts[idx[0]]
        pool = np.flatnonzero((shifts == mapping[own]) & (keys == key))
        if pool.size < min(10, idx.size):   # that shift sorted (almost) none of this grade
            pool = idx
        members[name] = rng.choice(pool, size=idx.size, replace=True)
    return table.lots(members)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=20_000)
    parser.add_argument("--shifts", type=int, default=10)
    parser.add_argument("--replicates", type=int, default=None, help="heats re-planned (default 200, quick 30)")
    parser.add_argument("--heat-kg", type=float, default=5_000.0)
    parser.add_argument("--seed", type=int, default=BELT_SEED)
    parser.add_argument("--quick", action="store_true", help="a small belt (2,000 pieces, 4 shifts, 30 replicates)")
    parser.add_argument("--cache", help="keep the simulated, classified belt in this file and reuse it")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/results alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.pieces, args.shifts, args.heat_kg = 2_000, 4, 500.0
    if args.replicates is None:
        args.replicates = 30 if args.quick else 200
    from aluloop.commands.lots import error_figures
    t0 = time.perf_counter()
    print(f"belt: {args.pieces:,} pieces over {args.shifts} shifts, model {MODEL}")
    if args.cache and Path(args.cache).exists():
        belt = pickle.loads(Path(args.cache).read_bytes())
    else:
        belt = simulate_belt(args.pieces, args.shifts, args.seed)
        if args.cache:
            Path(args.cache).write_bytes(pickle.dumps(belt))
    belt["keys"] = lot_keys(belt)
    t_belt = time.perf_counter() - t0
    figures = error_figures(MODEL)
    index = {}
    for s in np.unique(belt["shift"]):
        for key in sorted(set(belt["keys"][belt["shift"] == s])):
            index[f"shift {s} {key}"] = np.flatnonzero((belt["shift"] == s) & (belt["keys"] == key))
    lots = build(belt, figures, index)
    accuracy = float(np.mean([r["grade"] == g for r, g in zip(belt["records"], belt["label"], strict=True)]))
    cov = coverage(lots)
    print(f"{len(lots)} lots ({min(i.size for i in index.values())}-{max(i.size for i in index.values())} pieces), "
          f"grade accuracy {accuracy:.4f}, unknown {np.mean(belt['keys'] == 'unknown'):.4f}")
    print(f"coverage of the true mean by the stated 95% interval: {cov['coverage']:.3f} of {cov['pairs']} "
          f"(lot, element) pairs (target >= 0.90); random part alone: {cov['coverage_random_only']:.3f}")
    print("  by element: " + ", ".join(f"{e} {v:.3f}" for e, v in cov["by_element"].items()))
    print(f"width ratio to the narrowest common-factor interval covering 90%: {cov['width_ratio']:.2f} (target <= 3)")

    t1 = time.perf_counter()
    recipe = plan(lots, args.heat_kg, draws=20_000)
    if recipe.status != "optimal":
        raise SystemExit(f"no 3104 recipe from the belt's lots: {recipe.status}")
    used = {ln.material: ln.mass_kg for ln in recipe.lines if ln.mass_kg > 1e-6}
    print(f"3104 heat of {args.heat_kg:,.0f} kg at 95% joint: recycled {recipe.recycled_fraction:.1%}, stated "
          f"p_joint {recipe.p_joint:.4f}; {len(used)} materials: "
          + ", ".join(f"{m} {kg:,.0f} kg" for m, kg in sorted(used.items(), key=lambda kv: -kv[1])[:6]))
    table = PieceTable(belt, figures)
    for name, (fast, _) in table.lots(index).items():   # the array sums are lot_chemistry's sums
        slow = lots[name][0]
        for e in MAJORS:
            assert math.isclose(fast.mean_wt_pct[e], slow.mean_wt_pct[e], rel_tol=1e-9, abs_tol=1e-12), (name, e)
            assert math.isclose(fast.sd_of_mean_wt_pct[e], slow.sd_of_mean_wt_pct[e], rel_tol=1e-9), (name, e)
    rng = np.random.default_rng(args.seed + 1)
    truths = {name: truth for name, (_, truth) in lots.items()}
    single = not violations(true_heat(recipe, truths, rng))
    hits, recycled, replanned = 0, [], 0
    broken: dict[str, int] = {}
    for r in range(args.replicates):
        yard = replicate_yard(table, index, rng)
        heat = plan(yard, args.heat_kg, draws=2_000)
        if heat.status != "optimal":
            continue
        replanned += 1
        recycled.append(heat.recycled_fraction)
        missed = violations(true_heat(heat, {n: t for n, (_, t) in yard.items()}, rng))
        hits += not missed
        for limit in missed:
            broken[limit] = broken.get(limit, 0) + 1
        if (r + 1) % 50 == 0:
            print(f"  {r + 1}/{args.replicates} replicates: in spec {hits / max(1, replanned):.3f}")
    p_heat = hits / max(1, replanned)
    se = math.sqrt(p_heat * (1 - p_heat) / max(1, replanned))
    t_mc = time.perf_counter() - t1
    print(f"heat in spec over the lots' true compositions: {p_heat:.3f} +/- {se:.3f} of {replanned} re-planned "
          f"heats (target >= 0.945); the belt's own heat in spec: {single}; mean recycled {np.mean(recycled):.1%}")
    print("limits broken: " + (", ".join(f"{k} {v}x" for k, v in sorted(broken.items())) or "none"))
    print(f"time: belt {t_belt:.0f} s, heats {t_mc:.0f} s (a shared 2-core machine: timings are noisy)")
    if args.no_write:
        return
    note = (f"{args.pieces:,} pieces, {args.shifts} shifts (condition cells {', '.join(map(str, belt['cells']))}), "
            f"{len(lots)} lots, model {MODEL}, seed {args.seed}")
    write("lot_uncertainty", [
        Figure("true lot mean inside the stated 95% interval, (lot, major element) pairs", round(cov["coverage"], 4),
               "fraction", baseline="random part alone (errors assumed to average out)",
               baseline_value=round(cov["coverage_random_only"], 4),
               ratio=cov["coverage"] / cov["coverage_random_only"] if cov["coverage_random_only"] else None,
               target=">= 0.90", met=cov["coverage"] >= 0.90,
               note=f"{cov['pairs']} pairs (by element "
               + ", ".join(f"{e} {v:.2f}" for e, v in cov["by_element"].items()) + f"); {note}"),
        Figure("stated 95% interval width / narrowest common-factor width covering 90%", round(cov["width_ratio"], 3),
               "x", target="<= 3", met=cov["width_ratio"] <= 3,
               note="factor k on the stated sds at which 90% of pairs are covered; ratio = 1/k"),
        Figure("3104 heat at 95% joint confidence in spec over the lots' true compositions", round(p_heat, 4),
               "fraction", baseline="stated joint probability of the belt's recipe",
               baseline_value=round(recipe.p_joint, 4), ratio=p_heat / recipe.p_joint, target=">= 0.945",
               met=p_heat >= 0.945,
               note=f"{replanned} re-planned heats of {args.heat_kg:,.0f} kg (standard error {se:.3f}); each yard's "
                    f"lots rebuilt from a random shift's pieces; mean recycled {np.mean(recycled):.1%}"),
    ], argv=argv, title="Sorted lots: honest chemistry and a heat charged from them")


if __name__ == "__main__":
    main()
