"""``aluloop alloys`` and ``aluloop materials``: the specification and material catalogues."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from aluloop.errors import user_errors
from aluloop.output import stdout_console as table_console
from blending.catalogue.materials import material_catalogue
from blending.catalogue.spec import alloy_catalogue, get_alloy

alloys = typer.Typer(help="Alloy specifications (composition limits, wt%).", no_args_is_help=True)
materials = typer.Typer(help="Charge materials: scrap classes, primary metal, additions.", no_args_is_help=True)
console = table_console()


def _range(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo:g}-{hi:g}"
    if hi is not None:
        return f"{hi:g}"
    return f">={lo:g}"


@alloys.command("list")
@user_errors
def alloys_list(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the catalogue alloys with their main limits."""
    catalogue = alloy_catalogue()
    if json_out:
        print(json.dumps([spec.to_json() for spec in catalogue.values()], indent=2))
        return
    table = Table(title="Alloy specifications (wt%, max unless a range)")
    for col in ("alloy", "family", "Si", "Fe", "Cu", "Mn", "Mg", "Cr", "Zn", "Ti", "other limits"):
        table.add_column(col)
    main = ("Si", "Fe", "Cu", "Mn", "Mg", "Cr", "Zn", "Ti")
    for spec in catalogue.values():
        cells = [_range(*spec.bounds()[e]) if e in spec.limits else "" for e in main]
        extra = [f"{k} {_range(*v)}" for k, v in spec.bounds().items() if k not in main]
        table.add_row(spec.name, spec.family, *cells, ", ".join(extra))
    console.print(table)


@alloys.command("show")
@user_errors
def alloys_show(name: str = typer.Argument(..., help="Alloy name, e.g. 5182 or A356.2."),
                json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show one alloy's limits and their source."""
    spec = get_alloy(name)
    if json_out:
        print(json.dumps(spec.to_json(), indent=2))
        return
    table = Table(title=f"{spec.name} ({spec.family})")
    table.add_column("element")
    table.add_column("min wt%", justify="right")
    table.add_column("max wt%", justify="right")
    for key, (lo, hi) in spec.bounds().items():
        table.add_row(key, "" if lo is None else f"{lo:g}", "" if hi is None else f"{hi:g}")
    if spec.others_each_max_wt_pct is not None:
        table.add_row("others each", "", f"{spec.others_each_max_wt_pct:g}")
    if spec.others_total_max_wt_pct is not None:
        table.add_row("others total", "", f"{spec.others_total_max_wt_pct:g}")
    table.add_row("Al", "remainder" if spec.al_min_wt_pct is None else f"{spec.al_min_wt_pct:g}", "")
    console.print(table)
    console.print(f"source: {spec.source}\nstatus: {spec.verification_status}", highlight=False)


@materials.command("list")
@user_errors
def materials_list(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the catalogue materials with chemistry, yield, price and CO2e."""
    catalogue = material_catalogue()
    if json_out:
        print(json.dumps([{
            "material": m.name, "isri_code": m.isri_code, "recycled": m.recycled.value,
            "yield": m.metal_yield, "cost_per_kg": m.cost_per_kg, "co2e_kg_per_kg": m.co2e_kg_per_kg,
            "composition_wt_pct": m.composition.as_dict(), "sd_wt_pct": m.sd_wt_pct,
            "charge_ok": m.charge_ok, "source": m.source} for m in catalogue.values()], indent=2))
        return
    main = ("Si", "Fe", "Cu", "Mn", "Mg", "Zn")
    table = Table(title="Charge materials (mean wt%; price USD/kg; CO2e kg/kg)")
    for col in ("material", "ISRI", "recycled", "yield", "USD/kg", "CO2e", *main, "other elements", "note"):
        table.add_column(col)
    for m in catalogue.values():
        c = m.composition
        # every element the material carries: the main ones in columns, the rest (Cr of Al-Cr 20) listed
        other = ", ".join(f"{e} {w:.3g}" for e, w in c.items() if e not in main and w > 0)
        # the name column holds the name the commands accept; "sort first" is a note beside it
        table.add_row(m.name, m.isri_code, m.recycled.value, f"{m.metal_yield:.3g}", f"{m.cost_per_kg:.2f}",
                      f"{m.co2e_kg_per_kg:.3g}", *(f"{c[e]:.3g}" for e in main), other,
                      "" if m.charge_ok else "sort before charging")
    console.print(table)
