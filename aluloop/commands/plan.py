"""``aluloop plan``: a schedule of heats charged together from one shared inventory."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from aluloop.errors import user_errors
from blending.campaign import CampaignPlan, load_schedule
from blending.lot import load_inventory
from blending.plan import CampaignComparison, CampaignRequest, campaign_steps, plan_campaign
from blending.recipe import DEFAULT_DRAWS

console = Console()
SHOW_PROGRESS_AFTER_S = 1.0


@user_errors(flags={"heats": "--schedule", "lots": "--inventory", "confidence": "--per-limit-confidence",
                    "joint_confidence": "--confidence", "time_limit_s": "--time-limit-s"})
def plan(
    schedule: Path = typer.Option(..., "--schedule",
                                  help="Schedule CSV: heat,alloy,mass_kg[,confidence][,per_limit_confidence]."),
    inventory: Path = typer.Option(..., "--inventory", help="Shared inventory CSV (see examples/README.md)."),
    joint_confidence: float | None = typer.Option(
        None, "--confidence", "--joint-confidence",
        help="Probability that the whole heat is in spec: every limit together (0.5 to 1; default 0.95 when "
             "--per-limit-confidence is not given), for heats without their own in the schedule."),
    per_limit: float | None = typer.Option(
        None, "--per-limit-confidence",
        help="Expert option, instead of --confidence: probability each limit holds with on its own. With many "
             "limits the whole heat is then in spec less often (0.95 per limit can be 0.8 joint)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Monte Carlo compliance checks."),
    draws: int = typer.Option(DEFAULT_DRAWS, "--draws", help="Monte Carlo draws per heat."),
    time_limit_s: float = typer.Option(45.0, "--time-limit-s",
                                       help="Wall-clock limit of the search for whole bales (large schedules with "
                                            "lots in bales; the plan states its optimality gap) (s)."),
) -> None:
    """Charge every heat of a schedule from one shared inventory, optimised together (most recycled, then cheapest)."""
    request = CampaignRequest(heats=load_schedule(schedule, joint_confidence=joint_confidence,
                                                  confidence=per_limit),
                              lots=load_inventory(inventory), draws=draws, seed=seed, time_limit_s=time_limit_s)
    result = _with_progress(request, show=not json_out)
    joint = result.joint
    if json_out:
        print(json.dumps(result.to_json(), indent=2))
    else:
        _print(result)
    if joint.status != "optimal":
        raise typer.Exit(1)


def _with_progress(request: CampaignRequest, *, show: bool) -> CampaignComparison:
    """plan_campaign with a progress bar that appears once the plan has taken a second."""
    with Progress(console=console, transient=True, disable=not show, auto_refresh=True) as progress:
        task = progress.add_task("planning the campaign", total=campaign_steps(request))
        progress.stop()                      # shown only if the plan takes longer than a second
        timer = threading.Timer(SHOW_PROGRESS_AFTER_S, progress.start)
        timer.daemon = True
        timer.start()
        first = True

        def stage(name: str) -> None:
            nonlocal first
            progress.update(task, description=name, advance=0 if first else 1)
            first = False

        try:
            return plan_campaign(request, on_stage=stage)
        finally:
            timer.cancel()
            progress.update(task, completed=campaign_steps(request))


def _print(result: CampaignComparison) -> None:
    joint, greedy = result.joint, result.greedy
    if joint.status == "infeasible" or not any(hp.feasible for hp in joint.heats):
        lead = "No plan charges every heat" if joint.status == "infeasible" else "No joint plan"
        console.print(f"[bold red]{lead}: {escape(joint.message)}.[/]", highlight=False)
        if greedy is not None and greedy.status == "optimal":
            console.print("The best feasible plan found is the greedy one (heat by heat); its heats follow.",
                          highlight=False)
            _heats(greedy)
        return
    if joint.status != "optimal":
        console.print(f"[bold red]{escape(joint.message)}.[/]", highlight=False)
    _heats(joint)
    u = Table(title="Shared inventory")
    for col in ("material", "available kg", "joint plan kg", "greedy plan kg", "left after joint kg"):
        u.add_column(col, justify="left" if col == "material" else "right")
    greedy_use = greedy.use_kg() if greedy is not None else [float("nan")] * len(joint.lots)
    for lot, a, b, left in zip(joint.lots, joint.use_kg(), greedy_use, joint.left_kg(), strict=True):
        u.add_row(lot.name, "to order" if lot.available_kg is None else f"{lot.available_kg:,.0f}",
                  f"{a:,.0f}", f"{b:,.0f}", "-" if lot.available_kg is None else f"{left:,.0f}")
    console.print(u)
    s = Table(title="Planned together vs one heat after another (greedy, schedule order)")
    for col in ("plan", "recycled kg", "recycled %", "cost USD", "materials kg CO2e"):
        s.add_column(col, justify="left" if col == "plan" else "right")
    for p in (joint, greedy):
        if p is not None and p.status in ("optimal", "failed") and any(hp.feasible for hp in p.heats):
            s.add_row(p.method, f"{p.recycled_kg:,.0f}", f"{100 * p.recycled_fraction:.2f}", f"{p.cost:,.0f}",
                      f"{p.co2e_kg:,.0f}")
        elif p is not None:
            s.add_row(p.method, "-", "-", "-", "-")
    console.print(s)
    if joint.gap is not None:
        g = joint.gap
        console.print(f"whole bales: {g.plan_kg:,.0f} kg recycled metal, at most {g.bound_kg:,.0f} kg possible "
                      f"({g.source}): optimality gap {100 * g.gap:.2f}%; {100 * g.loss_vs_loose:.2f}% below the "
                      f"plan with every lot loose ({g.loose_kg:,.0f} kg); bale counts from {g.found}, "
                      f"{g.seconds:.1f} s", highlight=False)
    gain = result.gain
    if greedy is None:
        if result.note:
            console.print(escape(result.note) + ".", highlight=False)
        return
    if gain is None:
        if greedy.status != "optimal":
            console.print(f"greedy plan fails: {escape(greedy.message)}; planning together charges every heat.",
                          highlight=False)
    else:
        console.print(f"planning together: {gain['recycled_kg']:+,.0f} kg recycled metal, "
                      f"{gain['cost']:+,.0f} USD saved, {gain['co2e_kg']:+,.0f} kg CO2e avoided "
                      "against the greedy plan", highlight=False)


def _heats(plan: CampaignPlan) -> None:
    how = "heats optimised together on the shared inventory" if plan.method == "joint" else "heat by heat"
    t = Table(title=f"Campaign plan ({how})")
    for col in ("heat", "alloy", "kg", "target", "recycled %", "USD/t", "P(all limits)", "largest charges"):
        t.add_column(col, justify="left" if col in ("heat", "alloy", "target", "largest charges") else "right",
                     overflow="fold")
    for hp in plan.heats:
        r = hp.recipe
        if r is None:
            t.add_row(hp.heat.name, hp.heat.spec.name, f"{hp.heat.mass_kg:,.0f}", hp.heat.confidence_text, "-", "-",
                      "-", "no charge" if not hp.feasible else "(no recipe: --draws 0)")
            continue
        lines = sorted(r.lines, key=lambda ln: -ln.mass_kg)
        charge = ", ".join(f"{ln.material} {ln.mass_kg / 1000:.1f} t" for ln in lines[:4])
        charge += f" + {len(lines) - 4} more" if len(lines) > 4 else ""
        t.add_row(hp.heat.name, hp.heat.spec.name, f"{hp.heat.mass_kg:,.0f}", hp.heat.confidence_text,
                  f"{100 * r.recycled_fraction:.1f}",
                  f"{r.cost / r.liquid_kg * 1000:,.0f}", f"{r.p_joint:.3f}", charge)
    console.print(t)
