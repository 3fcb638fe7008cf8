"""``aluloop blend``: the charge of one heat that meets the spec with a stated probability."""

from __future__ import annotations

import math
from contextlib import nullcontext
from pathlib import Path

import typer
from rich.table import Table

from aluloop.errors import user_errors
from aluloop.output import json_text, stdout_console
from blending.catalogue.composition import Composition
from blending.catalogue.spec import Spec, get_alloy, load_limits_csv
from blending.errors import InputError
from blending.lot import heel_composition_from_text, load_inventory
from blending.melt import load_recoveries
from blending.plan import ChargeRequest, plan_charge
from blending.recipe import DEFAULT_DRAWS, Recipe

# Piped output (a file, CI logs) has no terminal width and rich would assume 80 columns, cutting
# and folding names and numbers; tables there take the width they need (up to this many columns).


console = stdout_console()


def read_spec(alloy: str | None, limits: Path | None) -> Spec:
    """The target from ``--alloy`` (catalogue) or ``--limits`` (a custom CSV), exactly one of them."""
    if (alloy is None) == (limits is None):
        raise InputError("give exactly one of --alloy and --limits")
    return get_alloy(alloy) if alloy is not None else load_limits_csv(limits)


def read_aim(path: Path | None) -> dict[str, tuple[float | None, float | None]] | None:
    if path is None:
        return None
    aim = load_limits_csv(path)
    return {k: (v.min_wt_pct, v.max_wt_pct) for k, v in aim.limits.items()}


# One exit code for "no charge meets the request" in blend, pareto and trim (2 is a usage error).
INFEASIBLE_EXIT_CODE = 1

# --confidence is the joint figure (the whole heat in spec); the library's per-limit ``confidence``
# is this command's expert --per-limit-confidence.
CONFIDENCE_HELP = ("Probability that the whole heat is in spec: every limit together (0.5 to 1; default 0.95 "
                   "when --per-limit-confidence is not given).")
PER_LIMIT_HELP = ("Expert option, instead of --confidence: probability each limit holds with on its own. With "
                  "many limits the whole heat is then in spec less often (0.95 per limit can be 0.8 joint).")


@user_errors(flags={"min_recycled_fraction": "--min-recycled", "spec": "--alloy",
                    "confidence": "--per-limit-confidence"})
def blend(
    alloy: str | None = typer.Option(None, "--alloy", help="Target alloy from the catalogue, e.g. 3104."),
    limits: Path | None = typer.Option(None, "--limits", help="Custom limits CSV: element,min,max (wt%)."),
    mass_kg: float = typer.Option(..., "--mass-kg", help="Liquid metal to produce, heel included (kg)."),
    inventory: Path = typer.Option(..., "--inventory", help="Inventory CSV (see examples/README.md)."),
    joint_confidence: float | None = typer.Option(None, "--confidence", "--joint-confidence", help=CONFIDENCE_HELP),
    per_limit_confidence: float | None = typer.Option(None, "--per-limit-confidence", help=PER_LIMIT_HELP),
    joint_allocation: str = typer.Option("bound", "--joint-allocation",
                                         help="How --confidence is split between limits: bound (safe "
                                              "product/Boole bound) or calibrated (on the joint probability)."),
    objective: str = typer.Option("recycled", "--objective", help="recycled (then cost), cost or co2."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    heel_kg: float = typer.Option(0.0, "--heel-kg", help="Liquid heel left from the last heat (kg)."),
    heel_composition: str = typer.Option("", "--heel-composition", help="Heel chemistry, e.g. 'Mg=1.1,Mn=0.9'."),
    capacity_kg: float | None = typer.Option(None, "--capacity-kg", help="Furnace capacity, heel plus charge (kg)."),
    min_recycled: float | None = typer.Option(None, "--min-recycled",
                                              help="Least recycled metal per kg of melt (0-1)."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="Most the charge may cost (USD per heat)."),
    aim_tighten: float | None = typer.Option(None, "--aim-tighten",
                                             help="Aim inside the spec by this fraction of each range."),
    aim_limits: Path | None = typer.Option(None, "--aim-limits", help="Aim limits CSV: element,min,max (wt%)."),
    mass_tolerance_kg: float = typer.Option(0.0, "--mass-tolerance-kg",
                                            help="Allowed deviation from --mass-kg (room for whole bales) (kg)."),
    recoveries: Path | None = typer.Option(None, "--recoveries", help="Element recoveries CSV: element,recovery."),
    plot: Path | None = typer.Option(None, "--plot", help="Write chemistry against limits to this PNG."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Monte Carlo compliance check."),
    draws: int = typer.Option(DEFAULT_DRAWS, "--draws", help="Monte Carlo draws."),
) -> None:
    """Charge recipe that meets the spec with a stated probability while maximising recycled content."""
    request = ChargeRequest(
        spec=read_spec(alloy, limits), mass_kg=mass_kg, lots=load_inventory(inventory),
        confidence=per_limit_confidence,
        joint_confidence=joint_confidence, joint_allocation=joint_allocation, objective=objective, heel_kg=heel_kg,
        heel_composition=heel_composition_from_text(heel_composition) if heel_composition else Composition({}),
        capacity_kg=capacity_kg, min_recycled_fraction=min_recycled, max_cost=max_cost, aim_tighten=aim_tighten,
        aim_limits=read_aim(aim_limits), mass_tolerance_kg=mass_tolerance_kg,
        recoveries=load_recoveries(recoveries) if recoveries else None, draws=draws, seed=seed)
    with console.status("optimising the charge", spinner="dots") if not json_out else nullcontext():
        recipe = plan_charge(request)
    if plot is not None and recipe.status == "optimal":
        from blending.plots import plot_chemistry
        plot_chemistry(recipe, plot)
    if json_out:
        print(json_text(recipe.to_json()))
    else:
        _print(recipe, request)
    if recipe.status != "optimal":
        raise typer.Exit(INFEASIBLE_EXIT_CODE)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def _print(recipe: Recipe, request: ChargeRequest) -> None:
    objective, target = request.objective, request.confidence_text
    if recipe.status != "optimal":
        console.print(f"[bold red]No recipe meets {recipe.spec_name} at {target} confidence.[/]")
        for sf in recipe.diagnosis.shortfalls:
            console.print(f"  {sf.sentence}", highlight=False)
        return
    t = Table(title=f"Charge for {request.mass_kg:,.0f} kg of {recipe.spec_name} liquid metal "
                    f"(objective: {objective}, confidence: {target})")
    for col, just in (("material", "left"), ("charged kg (solid)", "right"), ("units", "right"),
                      ("category", "left"), ("USD", "right"), ("kg CO2e", "right")):
        t.add_column(col, justify=just)
    for i, ln in enumerate(recipe.lines):
        t.add_row(ln.material, f"{ln.mass_kg:,.1f}", "" if ln.units is None else str(ln.units),
                  ln.recycled.value, f"{ln.cost:,.0f}", f"{ln.co2e_kg:,.0f}", end_section=i == len(recipe.lines) - 1)
    t.add_row("total charged", f"{recipe.charged_kg:,.1f}", "", "", f"{recipe.cost:,.0f}", f"{recipe.co2e_kg:,.0f}",
              style="bold")
    console.print(t)
    heel = request.heel_kg
    console.print(f"liquid metal: {recipe.liquid_kg:,.1f} kg = "
                  + (f"heel {heel:,.1f} kg + " if heel else "")
                  + f"{recipe.liquid_kg - heel:,.1f} kg from the {recipe.charged_kg:,.1f} kg charged "
                  "(metal yield)", highlight=False)
    rec = ", ".join(f"{e} {r:g}" for e, r in recipe.recoveries.items()) or "none below 1"
    where = "--recoveries" if request.recoveries is not None else "default, blending/data/recoveries.csv"
    console.print(f"element recoveries applied (kg/kg, {where}; others 1): {rec}", highlight=False)
    c = Table(title=f"Melt chemistry against {recipe.spec_name} (Monte Carlo, {recipe.draws:,} draws, "
                    f"seed {recipe.seed})")
    for col in ("limit", "bound wt%", "mean wt%", "sd wt%", "margin wt%", "P(in spec)"):
        c.add_column(col, justify="left" if col == "limit" else "right")
    for lc in recipe.compliance:
        style = "red" if lc.probability < 0.95 else ""
        c.add_row(lc.limit.label, f"{lc.limit.bound_wt_pct:g}", f"{lc.mean_wt_pct:.4f}", f"{lc.sd_wt_pct:.4f}",
                  f"{lc.margin_wt_pct:+.4f}", f"{lc.probability:.4f}", style=style)
    console.print(c)
    console.print(f"joint probability in spec: [bold]{recipe.p_joint:.4f}[/]")
    split = ", ".join(f"{k.replace('_', '-')} {100 * v:.1f}%" for k, v in recipe.category_fraction.items() if v)
    console.print(f"recycled content (ISO 14021, pre- + post-consumer): [bold]{100 * recipe.recycled_fraction:.2f}%"
                  f"[/] of {recipe.liquid_kg:,.0f} kg liquid metal ({split})", highlight=False)
    console.print(f"charge cost: {recipe.cost:,.0f} USD ({recipe.cost / recipe.liquid_kg * 1000:,.0f} USD/t metal)")
    console.print(f"materials CO2e: {recipe.co2e_kg:,.0f} kg ({recipe.co2e_kg_per_t:,.0f} kg/t metal; "
                  "cradle-to-gate factors of the charged materials, melting energy not included)")
    if recipe.binding:
        console.print("[bold]What holds the recipe back:[/]")
        for b in recipe.binding:
            console.print(f"  - {b.sentence}", highlight=False)
