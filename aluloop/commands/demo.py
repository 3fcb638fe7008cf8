"""``aluloop demo``: the main job end to end on the shipped defaults.

Spectrum -> piece: every spectrum in ``sample_spectra/`` is classified by the bundled
ONNX model for its instrument. Lot -> recipe: a charge for a can-body heat is optimised
from the example UBC inventory at 95% joint confidence, with its chemistry plot.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import typer
from rich.table import Table

from aluloop.errors import user_errors
from aluloop.output import stdout_console as table_console
from blending.errors import InputError

REPO = Path(__file__).resolve().parents[2]
console = table_console()


def _sort_pieces(samples: Path) -> Counter:
    from sorter.io import read_spectrum
    from sorter.serving import Sorter

    manifest = samples / "manifest.csv"
    if not manifest.exists():
        raise FileNotFoundError(2, "no manifest.csv in the sample folder", str(manifest))
    with manifest.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    sorter = Sorter()
    table = Table(title=f"Sorting {len(rows)} sample pieces (spectrum -> piece)")
    for col in ("file", "true grade", "grade", "family", "P(top)", "decision"):
        table.add_column(col)
    tally: Counter = Counter()
    for row in rows:
        result = sorter.classify(read_spectrum(samples / row["file"]))
        top = max(result.probabilities.values()) if result.probabilities else 0.0
        right = result.decision == "accept" and result.grade == row["grade"]
        tally["accepted" if result.decision == "accept" else "unknown"] += 1
        tally["correct"] += right
        tally["wrong"] += result.decision == "accept" and not right
        mark = "" if right or result.decision != "accept" else " [red](wrong)[/]"
        table.add_row(row["file"], row["grade"], result.grade + mark, result.family, f"{top:.3f}", result.decision)
    console.print(table)
    console.print(f"{len(rows)} pieces: {tally['accepted']} accepted ({tally['correct']} right, "
                  f"{tally['wrong']} wrong), {tally['unknown']} sent round again as unknown\n")
    return tally


def _charge(inventory: Path, alloy: str, mass_kg: float, out: Path) -> None:
    from blending.lot import load_inventory
    from blending.plan import ChargeRequest, plan_charge
    from blending.plots import plot_chemistry

    recipe = plan_charge(ChargeRequest(alloy, mass_kg, load_inventory(inventory), joint_confidence=0.95))
    if recipe.status != "optimal":
        raise InputError(f"no recipe for {alloy} from {inventory}: see aluloop blend for the diagnosis")
    table = Table(title=f"Charge for {mass_kg:,.0f} kg of {alloy} from {inventory.name} (lot -> recipe)")
    table.add_column("material")
    table.add_column("kg", justify="right")
    for line in recipe.lines:
        if line.mass_kg > 0.05:
            table.add_row(line.material, f"{line.mass_kg:,.1f}")
    console.print(table)
    console.print(f"joint probability in spec {recipe.p_joint:.3f}; recycled content {recipe.recycled_fraction:.1%}; "
                  f"cost {recipe.cost:,.0f} USD; materials CO2e {recipe.co2e_kg:,.0f} kg")
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"chemistry_{alloy}.png"
    plot_chemistry(recipe, png)
    console.print(f"chemistry against the {alloy} limits: {png}")


@user_errors
def demo(
    samples: Path = typer.Option(REPO / "sample_spectra", "--samples", help="Folder of spectra with manifest.csv."),
    inventory: Path = typer.Option(REPO / "examples" / "ubc_3104_inventory.csv", "--inventory",
                                   help="Inventory CSV for the example heat."),
    alloy: str = typer.Option("3104", "--alloy", help="Alloy of the example heat."),
    mass_kg: float = typer.Option(20_000, "--mass-kg", help="Liquid metal of the example heat (kg)."),
    out: Path = typer.Option(Path("aluloop-demo"), "--out", help="Folder for the plots."),
    belt_pieces: int = typer.Option(300, "--belt-pieces", min=1, max=20_000,
                                    help="Pieces of the simulated belt of the heat-report chain."),
    report: bool = typer.Option(True, "--report/--no-report",
                                help="Run the whole chain to a heat report (needs the service's extras)."),
) -> None:
    """Run the main job on the shipped defaults: sort the sample spectra, then charge a heat; then the
    whole chain through the service to a heat report (report.html, report.pdf in --out)."""
    _sort_pieces(samples)
    _charge(inventory, alloy, mass_kg, out)
    if report:
        _report(out, inventory, alloy, mass_kg, belt_pieces)


def _report(out: Path, inventory: Path, alloy: str, mass_kg: float, belt_pieces: int) -> None:
    from aluloop.commands.demo_chain import missing_extras, run_chain

    lacking = missing_extras()
    if lacking is not None:
        console.print(f"\nheat report skipped: the service's extras are not installed ({lacking}); "
                      "pip install -e '.[api]' and run aluloop demo again")
        return
    console.print("\nThe whole chain through the service (belt -> lots -> recipe -> heat -> trim -> report):")
    done = run_chain(out, inventory, alloy, mass_kg, belt_pieces, console=console)
    r = done["report"]
    console.print(f"{done['pieces']} belt pieces classified into {done['lots']} lots; heat {r['heat_number']}: "
                  f"{r['verdict']['status']}; trim: {done['trim'].get('status')}")
    console.print(f"recycled content {r['recycled_content']['fraction']:.1%}; footprint "
                  f"{r['footprint']['kg_co2e_per_t']:,.0f} kg CO2e/t; CBAM embedded "
                  f"{r['footprint']['cbam']['embedded_kg_co2e_per_t']:,.0f} kg CO2e/t")
    console.print(f"heat report: {done['html']} and {done['pdf']}")
    console.print(f"to open the UI: ALULOOP_DATABASE_URL=sqlite:///{done['db'].resolve()} aluloop serve, then "
                  f"http://127.0.0.1:8000/ui/login with the quality key in {done['keys']}")
