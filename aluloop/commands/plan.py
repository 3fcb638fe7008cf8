"""``aluloop plan``: a schedule of heats charged together from one shared inventory."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from aluloop.errors import user_errors
from blending.campaign import load_schedule
from blending.lot import load_inventory
from blending.plan import CampaignComparison, CampaignRequest, plan_campaign
from blending.recipe import DEFAULT_DRAWS
from blending.request import check_probability

console = Console()


@user_errors(flags={"heats": "--schedule", "lots": "--inventory"})
def plan(
    schedule: Path = typer.Option(..., "--schedule", help="Schedule CSV: heat,alloy,mass_kg[,confidence]."),
    inventory: Path = typer.Option(..., "--inventory", help="Shared inventory CSV (see examples/README.md)."),
    confidence: float = typer.Option(0.95, "--confidence",
                                     help="Probability each limit holds with, for heats without their own [0.5, 1)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Monte Carlo compliance checks."),
    draws: int = typer.Option(DEFAULT_DRAWS, "--draws", help="Monte Carlo draws per heat."),
) -> None:
    """Charge every heat of a schedule from one shared inventory, optimised together (most recycled, then cheapest)."""
    check_probability(confidence, "confidence")
    request = CampaignRequest(heats=load_schedule(schedule, confidence=confidence), lots=load_inventory(inventory),
                              draws=draws, seed=seed)
    with Progress(console=console, transient=True, disable=json_out) as progress:
        task = progress.add_task("planning the campaign", total=2)

        def stage(name: str) -> None:
            if name != "planning the campaign":
                progress.update(task, description=name, advance=1)

        result = plan_campaign(request, on_stage=stage)
        progress.advance(task)
    joint = result.joint
    if json_out:
        print(json.dumps(result.to_json(), indent=2))
    else:
        _print(result)
    if joint.status != "optimal":
        raise typer.Exit(1)


def _print(result: CampaignComparison) -> None:
    joint, greedy = result.joint, result.greedy
    if joint.status != "optimal":
        console.print(f"[bold red]No plan charges every heat: {joint.message}.[/]", highlight=False)
        return
    t = Table(title="Campaign plan (heats optimised together on the shared inventory)")
    for col in ("heat", "alloy", "kg", "recycled %", "USD/t", "P(all limits)", "largest charges"):
        t.add_column(col, justify="left" if col in ("heat", "alloy", "largest charges") else "right")
    for hp in joint.heats:
        r = hp.recipe
        lines = sorted(r.lines, key=lambda ln: -ln.mass_kg)
        charge = ", ".join(f"{ln.material} {ln.mass_kg / 1000:.1f} t" for ln in lines[:4])
        charge += f" + {len(lines) - 4} more" if len(lines) > 4 else ""
        t.add_row(hp.heat.name, hp.heat.spec.name, f"{hp.heat.mass_kg:,.0f}", f"{100 * r.recycled_fraction:.1f}",
                  f"{r.cost / r.liquid_kg * 1000:,.0f}", f"{r.p_joint:.3f}", charge)
    console.print(t)
    u = Table(title="Shared inventory")
    for col in ("material", "available kg", "joint plan kg", "greedy plan kg"):
        u.add_column(col, justify="left" if col == "material" else "right")
    for lot, a, b in zip(joint.lots, joint.use_kg(), greedy.use_kg(), strict=True):
        u.add_row(lot.name, "to order" if lot.available_kg is None else f"{lot.available_kg:,.0f}",
                  f"{a:,.0f}", f"{b:,.0f}")
    console.print(u)
    s = Table(title="Planned together vs one heat after another (greedy, schedule order)")
    for col in ("plan", "recycled kg", "recycled %", "cost USD", "materials kg CO2e"):
        s.add_column(col, justify="left" if col == "plan" else "right")
    for p in (joint, greedy):
        if p.status == "optimal":
            s.add_row(p.method, f"{p.recycled_kg:,.0f}", f"{100 * p.recycled_fraction:.2f}", f"{p.cost:,.0f}",
                      f"{p.co2e_kg:,.0f}")
        else:
            s.add_row(p.method, "-", "-", "-", "-")
    console.print(s)
    gain = result.gain
    if gain is None:
        console.print(f"greedy plan fails: {greedy.message}; planning together charges every heat.", highlight=False)
    else:
        console.print(f"planning together: {gain['recycled_kg']:+,.0f} kg recycled metal, "
                      f"{gain['cost']:+,.0f} USD saved, {gain['co2e_kg']:+,.0f} kg CO2e avoided "
                      "against the greedy plan", highlight=False)
