"""``aluloop pareto``: recycled content against cost and against CO2e, as data and a plot."""

from __future__ import annotations

import csv
from contextlib import nullcontext
from pathlib import Path

import typer
from rich.table import Table

from aluloop.commands.blend import CONFIDENCE_HELP, INFEASIBLE_EXIT_CODE, PER_LIMIT_HELP
from aluloop.errors import user_errors
from aluloop.output import json_text
from aluloop.output import stdout_console as table_console
from blending.errors import InfeasibleError
from blending.lot import load_inventory
from blending.pareto import ParetoFront, plot_pareto
from blending.plan import ParetoRequest, plan_pareto

console = table_console()


@user_errors(flags={"spec": "--alloy", "lots": "--inventory", "confidence": "--per-limit-confidence"})
def pareto(
    alloy: str = typer.Option(..., "--alloy", help="Target alloy from the catalogue, e.g. 3104."),
    mass_kg: float = typer.Option(..., "--mass-kg", help="Liquid metal to produce [kg]."),
    inventory: Path = typer.Option(..., "--inventory", help="Inventory CSV (see examples/README.md)."),
    points: int = typer.Option(50, "--points", help="Points per front, ends included."),
    joint_confidence: float | None = typer.Option(None, "--confidence", "--joint-confidence", help=CONFIDENCE_HELP),
    per_limit_confidence: float | None = typer.Option(None, "--per-limit-confidence", help=PER_LIMIT_HELP),
    capacity_kg: float | None = typer.Option(None, "--capacity-kg", help="Furnace capacity [kg]."),
    out: Path = typer.Option(Path("pareto.png"), "--out", help="Write the two-panel plot to this PNG."),
    csv_out: Path | None = typer.Option(None, "--csv", help="Also write the points to this CSV."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Pareto fronts of recycled content against charge cost and against CO2e (epsilon-constraint sweep)."""
    request = ParetoRequest(spec=alloy, mass_kg=mass_kg, lots=load_inventory(inventory), points=points,
                            confidence=per_limit_confidence, joint_confidence=joint_confidence,
                            capacity_kg=capacity_kg)
    try:
        with console.status(f"sweeping {points} recycled levels", spinner="dots") if not json_out else nullcontext():
            front = plan_pareto(request)
    except InfeasibleError as exc:  # as blend reports an infeasible heat: what binds, and the same exit code
        if json_out:
            print(json_text({"status": "infeasible", "spec": request.spec.name,  # type: ignore[union-attr]
                             "diagnosis": exc.diagnosis.to_json()}))
        else:
            console.print(f"[bold red]No charge meets {request.spec.name} at {_target(request, short=True)} "
                          "confidence.[/]")  # type: ignore[union-attr]
            for sf in exc.diagnosis.shortfalls:
                console.print(f"  {sf.sentence}", highlight=False)
        raise typer.Exit(INFEASIBLE_EXIT_CODE) from None
    plot_pareto(front, out)
    if csv_out is not None:
        _write_csv(front, csv_out)
    if json_out:
        print(json_text({**front.to_json(), "joint_confidence": request.joint_confidence,
                          "per_limit_confidence": request.confidence, "plot": str(out)}))
        return
    console.print(f"every point is planned for a probability in spec of {_target(request)}", highlight=False)
    _print(front)
    console.print(f"plot written to {out}" + (f", points to {csv_out}" if csv_out else ""), highlight=False)



def _target(request: ParetoRequest, short: bool = False) -> str:
    if short:
        return (f"joint {request.joint_confidence:g}" if request.joint_confidence is not None
                else f"{request.confidence:g} per limit")
    if request.joint_confidence is not None:
        return f"at least {request.joint_confidence:g} (joint: every limit together)"
    return f"{request.confidence:g} per limit (not joint: the heat as a whole is in spec less often)"


def _write_csv(front: ParetoFront, path: Path) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["front", "recycled_fraction", "cost_usd", "co2e_kg", *[f"{n}_kg" for n in front.lots]])
        for term, pts in front.fronts.items():
            for p in pts:
                w.writerow([term, f"{p.recycled_fraction:.6f}", f"{p.cost:.2f}", f"{p.co2e_kg:.2f}",
                            *[f"{x:.2f}" for x in p.charge_kg]])


def _print(front: ParetoFront, rows: int = 6) -> None:
    per_t = 1000 / front.mass_kg
    for term, pts in front.fronts.items():
        knee = front.knee(term)
        t = Table(title=f"{front.spec}: least {'cost' if term == 'cost' else 'CO2e'} at each recycled level "
                        f"({len(pts)} points; every {max(1, len(pts) // rows)}th shown, knee marked)")
        for col in ("recycled %", "USD/t", "kg CO2e/t", "charge (largest lots)"):
            t.add_column(col, justify="left" if col.startswith("charge") else "right")
        step = max(1, len(pts) // rows)
        shown = sorted(set(range(0, len(pts), step)) | {knee, len(pts) - 1})
        for k in shown:
            p = pts[k]
            t.add_row(f"{100 * p.recycled_fraction:.2f}", f"{p.cost * per_t:,.1f}", f"{p.co2e_kg * per_t:,.1f}",
                      p.summary(front.lots) + ("  <- knee" if k == knee else ""), style="bold" if k == knee else "")
        console.print(t)
