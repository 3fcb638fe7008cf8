"""What uncertainty-aware charging is worth on the shipped scenarios, at equal compliance.

    python -m bench.blend_value [--confidence 0.95] [--tighten 0.15] [--draws 400000] [--plot value.png]

For each scenario (examples/), maximising recycled content (then minimising cost):

* chance-constrained (CC) at ``--confidence`` joint, the risk split between limits by
  the optimiser's bound (``blending.optimise.optimise``: exact product over single
  elements, Boole's inequality for sums, conservative) and calibrated on the joint
  probability itself (``blending.joint.optimise_calibrated``, lands on the figure);
* the plant's usual practice: a deterministic LP on mean chemistry aimed inside the
  specification by one fraction t of each limit's range (of the max for max-only
  limits, of the min for min-only ones: ``Spec.tightened``), once at ``--tighten`` (a
  common rule of thumb), and at the t (continuous, bisection) whose recipe has exactly
  the joint compliance of each CC recipe: the LP a plant would have to run to be as safe.

Every recipe is judged against the specification itself twice: by the joint probability
of ``blending.joint.JointProbability`` (exact over single-element limits, common random
numbers for sums; the curve the bisection walks, noise-free between recipes), and by an
independent plain Monte Carlo of ``--draws`` draws of the lots' chemistry (seed 2026,
the same draws for every recipe, so differences between recipes are paired), shown with
its standard error.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.results import Figure, write
from blending.catalogue.spec import get_alloy
from blending.charge_model import ChargeModel, build_charge_model, chemistry_limits
from blending.joint import JointProbability, optimise_calibrated, practice_fraction
from blending.lot import load_inventory
from blending.melt import Melt
from blending.optimise import Solution, optimise, solve
from blending.recipe import Recipe, melt_chemistry, recipe_from_solution

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCENARIOS = (
    ("UBC -> 3104", "3104", "ubc_3104_inventory.csv"),
    ("post-consumer 6xxx -> 6063", "6063", "toto_6063_inventory.csv"),
    ("mixed old sheet -> 5052", "5052", "old_sheet_5052_inventory.csv"),
)
MC_SEED = 2026
CONFIDENCES = (0.90, 0.95, 0.97, 0.98, 0.99)
# The LP's search runs to 49% of each range (a two-sided window then keeps 2% of its width).
MOST = 0.49


def joint_indicator(model: ChargeModel, x_kg: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Plain Monte Carlo: whether each draw of the melt meets every limit of the spec."""
    _, mean, sd = melt_chemistry(model, x_kg)
    sample = z * sd + mean
    index = {e: j for j, e in enumerate(model.elements)}
    ok = np.ones(len(z), dtype=bool)
    for lim in chemistry_limits(model.spec, model.elements, aim=False):
        total = sample[:, [index[e] for e in lim.elements]].sum(axis=1)
        ok &= lim.sense * (total - lim.rhs_wt_pct) <= 0
    return ok


def practice(model: ChargeModel, fraction: float) -> Solution:
    """The deterministic LP aimed ``fraction`` of each range inside the spec."""
    return solve(build_charge_model(model.lots, model.melt, model.spec.tightened(fraction), confidence=0.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--confidence", type=float, default=0.95, help="joint confidence of the CC recipes")
    parser.add_argument("--tighten", type=float, default=0.15,
                        help="aim-limit tightening of the rule-of-thumb LP, fraction of each range")
    parser.add_argument("--draws", type=int, default=400_000, help="plain Monte Carlo draws per recipe")
    parser.add_argument("--mass-kg", type=float, default=20_000.0)
    parser.add_argument("--plot", type=Path, default=None,
                        help=f"write recycled content against joint compliance (LP tightening curve, CC at "
                             f"{', '.join(f'{c:g}' for c in CONFIDENCES)}) to this PNG")
    args = parser.parse_args()
    melt = Melt(args.mass_kg)
    alpha = args.confidence
    header = (f"{'recipe':<40} {'recycled %':>10} {'primary kg':>10} {'P(joint) MC ± se':>17} "
              f"{'P(joint)':>8} {'worst limit':>20} {'USD/t':>6} {'kgCO2e/t':>8}")
    curves = {}
    figures: list[Figure] = []
    for title, alloy, inventory in SCENARIOS:
        lots = load_inventory(EXAMPLES / inventory)
        spec = get_alloy(alloy)
        model = build_charge_model(lots, melt, spec, joint_confidence=alpha)
        joint = JointProbability(model)
        z = np.random.default_rng(MC_SEED).standard_normal((args.draws, len(model.elements)))
        t0 = time.perf_counter()
        bound = optimise(model)
        t1 = time.perf_counter()
        calibrated = optimise_calibrated(model)
        t2 = time.perf_counter()
        runs: list[tuple[str, Solution]] = [
            (f"CC {alpha:g} joint, bound allocation", bound),
            (f"CC {alpha:g} joint, calibrated", calibrated),
            (f"LP aim {args.tighten:.1%} inside", practice(model, args.tighten)),
        ]
        matched = {}
        for name, sol in runs[:2]:
            target = joint(sol.x_kg).probability
            found = practice_fraction(model, "recycled", target, joint, most=MOST)
            matched[name] = found
            if found is not None:
                runs.append((f"LP aim {found[0]:.2%} inside (= {name.split(', ')[1]})", found[1]))
        print(f"\n{title}  ({spec.name}, {args.mass_kg:,.0f} kg melt)")
        print(header)
        print("-" * len(header))
        recipes: dict[str, tuple[Recipe, np.ndarray, float]] = {}
        for name, sol in runs:
            recipe = recipe_from_solution(sol, draws=args.draws, seed=MC_SEED)
            if recipe.status != "optimal":
                print(f"{name:<40} infeasible")
                continue
            ok = joint_indicator(sol.model, sol.x_kg, z)
            p_mc = float(ok.mean())
            se = np.sqrt(p_mc * (1 - p_mc) / args.draws)
            p_crn = joint.from_chemistry(*melt_chemistry(model, sol.x_kg)[1:]).probability
            worst = min(recipe.compliance, key=lambda c: c.probability)
            primary = sum(ln.mass_kg for ln in recipe.lines if ln.recycled.value == "primary")
            print(f"{name:<40} {100 * recipe.recycled_fraction:>10.3f} {primary:>10,.0f} "
                  f"{p_mc:>9.4f} ± {se:.4f} {p_crn:>8.4f} {worst.limit.label + f' {worst.probability:.4f}':>20} "
                  f"{1000 * recipe.cost / recipe.liquid_kg:>6,.0f} {recipe.co2e_kg_per_t:>8,.0f}")
            recipes[name] = (recipe, ok, p_crn)
        for name in (runs[0][0], runs[1][0]):
            found = matched[name]
            if found is None:
                print(f"  {name}: no tightening up to {MOST:.0%} makes the LP as compliant")
                continue
            lp_name = next(n for n, s in runs if s is found[1])
            cc, ok_cc, p_cc = recipes[name]
            lp, ok_lp, p_lp = recipes[lp_name]
            gain = 100 * (cc.recycled_fraction - lp.recycled_fraction)
            kg = (cc.recycled_fraction - lp.recycled_fraction) * cc.liquid_kg
            diff = ok_cc.astype(float) - ok_lp.astype(float)
            d_se = float(diff.std(ddof=1) / np.sqrt(args.draws))
            figures.append(Figure(
                what=f"{title}: {name} against the LP at equal joint compliance {p_cc:.4f}", value=round(gain, 4),
                unit="points of recycled content", baseline=f"deterministic LP aimed {found[0]:.2%} inside",
                baseline_value=round(100 * lp.recycled_fraction, 4), target=">= 0 (CC recycles no less)",
                met=gain >= -1e-6, note=f"{kg:+,.0f} kg recycled per heat; paired MC difference "
                                        f"{diff.mean():+.4f} +- {d_se:.4f}"))
            print(f"  at equal compliance P(joint) = {p_cc:.4f} (LP {p_lp:.4f}, aim {found[0]:.2%} inside): "
                  f"{name.split(', ')[1]} CC recycles {gain:+.3f} points ({kg:+,.0f} kg recycled metal per heat); "
                  f"paired MC compliance difference {diff.mean():+.4f} ± {d_se:.4f}")
        print(f"  solve time: bound allocation {t1 - t0:.2f} s, calibrated {t2 - t1:.2f} s "
              f"({(t2 - t1) / (t1 - t0):.1f}x)")
        lp15 = recipes.get(runs[2][0])
        cal = recipes.get(runs[1][0])
        if lp15 is not None and cal is not None:
            print(f"  vs the {args.tighten:.0%} rule of thumb: calibrated CC recycles "
                  f"{100 * (cal[0].recycled_fraction - lp15[0].recycled_fraction):+.3f} points; "
                  f"P(joint) {cal[2]:.4f} against {lp15[2]:.4f}")
        curves[title] = _sweep(model, joint, alpha, calibrated, args.plot is not None)
    print(f"\nP(joint) MC: plain Monte Carlo, {args.draws:,} draws of the melt chemistry (independent normal lot "
          f"chemistry, catalogue sd), seed {MC_SEED}, same draws for every recipe of a scenario; P(joint): "
          f"blending.joint.JointProbability (exact product over single-element limits, common random numbers for "
          f"limits on sums), the compliance the bisection matches.")
    _print_sweep(curves)
    write("blend_value", figures, title="Value of the chance constraints: recycled content at equal compliance")
    if args.plot is not None:
        _plot(curves, args.plot)
        print(f"plot: {args.plot}")


def _sweep(model: ChargeModel, joint: JointProbability, alpha: float, at_alpha: Solution, curve: bool) -> dict:
    """CC recipes (both allocations) at each of CONFIDENCES, the LP of equal joint
    probability for each calibrated one, and with ``curve`` the LP's tightening curve."""
    def recycled(sol: Solution) -> float:
        return 100 * model.term("recycled", model.variables(sol.x_kg))

    lp = []
    if curve:
        for t in np.round(np.linspace(0.0, MOST, 99), 4):
            sol = practice(model, float(t))
            if sol.status == "optimal":
                lp.append((joint(sol.x_kg).probability, recycled(sol)))
    cc = {}
    for conf in CONFIDENCES:
        m = model if conf == alpha else build_charge_model(model.lots, model.melt, model.spec,
                                                           joint_confidence=conf)
        row = {}
        calibrated = at_alpha if conf == alpha else optimise_calibrated(m)
        for kind, sol in (("bound", optimise(m)), ("calibrated", calibrated)):
            row[kind] = None if sol.status != "optimal" else (joint(sol.x_kg).probability, recycled(sol))
        if row["calibrated"] is not None:
            found = practice_fraction(model, "recycled", row["calibrated"][0], joint, most=MOST)
            row["lp"] = None if found is None else (found[2].probability, recycled(found[1]), found[0])
        cc[conf] = row
    return {"lp": lp, "cc": cc}


def _print_sweep(curves: dict) -> None:
    print("\nAt equal joint compliance, by confidence: calibrated CC against the LP tightened (continuously) to "
          "the same P(joint)")
    head = (f"{'scenario':<28} {'alpha':>5} {'CC recycled %':>13} {'P(joint)':>8} {'LP aim':>7} "
            f"{'LP recycled %':>13} {'P(joint)':>8} {'CC - LP':>8}   {'bound-CC recycled % (P)':>23}")
    print(head)
    print("-" * len(head))
    for title, data in curves.items():
        for conf, row in data["cc"].items():
            cal, bnd, lp = row["calibrated"], row["bound"], row.get("lp")
            bound_txt = "infeasible" if bnd is None else f"{bnd[1]:.3f} ({bnd[0]:.4f})"
            if cal is None:
                print(f"{title:<28} {conf:>5.2f} {'infeasible':>13}")
                continue
            lp_txt = (f"{'--':>7} {'unreachable':>13} {'':>8} {'':>8}" if lp is None else
                      f"{lp[2]:>7.2%} {lp[1]:>13.3f} {lp[0]:>8.4f} {cal[1] - lp[1]:>+8.3f}")
            print(f"{title:<28} {conf:>5.2f} {cal[1]:>13.3f} {cal[0]:>8.4f} {lp_txt}   {bound_txt:>23}")
    print(f"'unreachable': no aim up to {MOST:.0%} of each range inside gives the LP recipe that joint probability.")


def _plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4.2))
    for ax, (title, data) in zip(np.atleast_1d(axes), curves.items(), strict=True):
        lp = np.array(data["lp"])
        keep = lp[:, 0] >= 0.85
        ax.plot(lp[keep, 0], lp[keep, 1], "-", color="#7f7f7f", lw=2,
                label="deterministic LP, aim t of each range inside")
        lows = []
        for k, (conf, row) in enumerate(data["cc"].items()):
            bound, calibrated = row["bound"], row["calibrated"]
            if bound is not None:
                ax.plot(*bound, "o", mfc="none", mec="#1f4e79", ms=9,
                        label="CC, bound allocation" if k == 0 else None)
            if calibrated is not None:
                lows.append(calibrated[1])
                ax.plot(*calibrated, "o", color="#c0392b", ms=5,
                        label="CC, calibrated allocation" if k == 0 else None)
                ax.annotate(f"{conf:g}", calibrated, textcoords="offset points", xytext=(6, -12), fontsize=8)
        if lows:
            top = max(lp[keep, 1].max() if keep.any() else 0.0, max(lows))
            ax.set_ylim(min(lows) - 0.6 * (top - min(lows)) - 0.5, top + 0.5)
        ax.set_xlim(0.85, 1.0)
        ax.set_title(title)
        ax.set_xlabel("joint probability in spec (simulated)")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("recycled content (%)")
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
