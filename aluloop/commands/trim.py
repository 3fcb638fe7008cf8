"""``aluloop trim``: the cheapest additions that bring a measured melt inside its aim limits."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import typer
from rich.table import Table

from aluloop.commands.blend import CONFIDENCE_HELP, INFEASIBLE_EXIT_CODE, PER_LIMIT_HELP
from aluloop.errors import user_errors
from aluloop.output import json_text
from aluloop.output import stdout_console as table_console
from blending.lot import load_inventory
from blending.melt import load_recoveries
from blending.plan import TrimRequest, plan_trim
from blending.recipe import DEFAULT_DRAWS
from blending.trim import Trim, load_analysis

console = table_console()


@user_errors(flags={"spec": "--alloy", "additions": "--inventory", "confidence": "--per-limit-confidence"})
def trim_command(
    alloy: str = typer.Option(..., "--alloy", help="Target alloy from the catalogue, e.g. 5182."),
    melt_kg: float = typer.Option(..., "--melt-kg", help="Liquid metal in the furnace now [kg]."),
    analysis: Path = typer.Option(..., "--analysis", help="Melt analysis CSV: element,wt_pct[,sd_wt_pct]."),
    inventory: Path = typer.Option(..., "--inventory", help="Additions on hand: inventory CSV (hardeners, "
                                                           "primary, scrap)."),
    capacity_kg: float | None = typer.Option(None, "--capacity-kg",
                                             help="Furnace capacity, melt plus additions [kg]; default: melt "
                                                  "plus every addition on hand (all must then be limited)."),
    joint_confidence: float | None = typer.Option(None, "--confidence", "--joint-confidence", help=CONFIDENCE_HELP),
    per_limit_confidence: float | None = typer.Option(None, "--per-limit-confidence", help=PER_LIMIT_HELP),
    aim_tighten: float | None = typer.Option(None, "--aim-tighten",
                                             help="Aim inside the spec by this fraction of each range."),
    recoveries: Path | None = typer.Option(None, "--recoveries", help="Element recoveries CSV: element,recovery."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Monte Carlo compliance check."),
    draws: int = typer.Option(DEFAULT_DRAWS, "--draws", help="Monte Carlo draws."),
) -> None:
    """Cheapest additions (hardeners, primary for dilution, scrap) that bring a melt inside the aim limits."""
    request = TrimRequest(spec=alloy, melt_kg=melt_kg, analysis=load_analysis(analysis),
                          additions=load_inventory(inventory), capacity_kg=capacity_kg,
                          confidence=per_limit_confidence, joint_confidence=joint_confidence,
                          aim_tighten=aim_tighten, recoveries=load_recoveries(recoveries) if recoveries else None,
                          draws=draws, seed=seed)
    with console.status("trimming the melt", spinner="dots") if not json_out else nullcontext():
        result = plan_trim(request)
    if json_out:
        print(json_text(result.to_json()))
    else:
        _print(result)
    if not result.saved:
        raise typer.Exit(INFEASIBLE_EXIT_CODE)



def _print(result: Trim) -> None:
    style = "bold green" if result.saved else "bold red"
    console.print(f"[{style}]{result.statement()}[/]", highlight=False)
    if result.saved and result.recipe.lines:
        t = Table(title=f"Additions to the {result.melt_kg:,.0f} kg melt")
        for col in ("material", "added kg (solid)", "USD", "kg CO2e"):
            t.add_column(col, justify="left" if col == "material" else "right")
        lines = result.recipe.lines
        for i, ln in enumerate(lines):
            t.add_row(ln.material, f"{ln.mass_kg:,.1f}", f"{ln.cost:,.0f}", f"{ln.co2e_kg:,.0f}",
                      end_section=i == len(lines) - 1)
        t.add_row("total added", f"{result.recipe.charged_kg:,.1f}", f"{result.recipe.cost:,.0f}",
                  f"{result.recipe.co2e_kg:,.0f}", style="bold")
        console.print(t)
        console.print(f"liquid metal after trimming: {result.recipe.liquid_kg:,.1f} kg", highlight=False)
    if result.saved:
        r = result.recipe
        c = Table(title=f"Melt after trimming against {r.spec_name} (Monte Carlo, {r.draws:,} draws)")
        for col in ("limit", "bound wt%", "measured wt%", "after wt%", "sd wt%", "P(in spec)"):
            c.add_column(col, justify="left" if col == "limit" else "right")
        comp = result.analysis.composition
        for lc in r.compliance:
            before = (comp.al_wt_pct if lc.limit.limit == "Al"
                      else sum(comp[e] for e in lc.limit.elements))
            c.add_row(lc.limit.label, f"{lc.limit.bound_wt_pct:g}", f"{before:.4f}", f"{lc.mean_wt_pct:.4f}",
                      f"{lc.sd_wt_pct:.4f}", f"{lc.probability:.4f}", style="red" if lc.probability < 0.95 else "")
        console.print(c)
        console.print(f"joint probability in spec: [bold]{r.p_joint:.4f}[/] (asked: {result.target})",
                      highlight=False)
        if r.binding:
            console.print("[bold]What sets the cost of the trim:[/]")
            for b in r.binding:
                console.print(f"  - {b.sentence}", highlight=False)
        return
    t = Table(title=f"Best achievable within {result.capacity_kg:,.0f} kg (least violation)")
    for col in ("limit", "bound wt%", "at best, over or short by wt%"):
        t.add_column(col, justify="left" if col == "limit" else "right")
    for s in result.shortfalls:
        t.add_row(s.name, f"{s.bound:g}", f"{s.amount:.4f}")
    console.print(t)
    if result.best_additions_kg:
        console.print("additions of that best blend: " + ", ".join(
            f"{kg:,.0f} kg {name}" for name, kg in result.best_additions_kg.items()), highlight=False)
    if result.regrade:
        console.print("[bold]Re-grade:[/] the melt already meets " +
                      ", ".join(r.sentence for r in result.regrade), highlight=False)
