"""``aluloop lots export``: the service's closed lots as inventory rows that ``aluloop blend --inventory`` reads."""

from __future__ import annotations

from pathlib import Path

import typer

from aluloop.commands.keys import CONFIG, _sessions
from aluloop.errors import user_errors
from aluloop.output import stdout_console, table


@user_errors
def export(
    csv_out: bool = typer.Option(False, "--csv", help="Print CSV (an inventory file) instead of a table."),
    with_empty: bool = typer.Option(False, "--all", help="Also lots whose stock has all been charged."),
    config: Path = CONFIG,
) -> None:
    """Closed lots of the service's database as inventory rows; ``available_kg`` is the stock left."""
    from api.services.inventory import current_cells, inventory_csv, items

    with _sessions(config)() as session:
        rows = [current_cells(i) for i in items(session, in_stock=not with_empty) if i.lot_id is not None]
    if csv_out:
        typer.echo(inventory_csv(rows), nl=False)
        return
    t = table(f"{len(rows)} closed lots", ["material", "available_kg", "Si", "Fe", "Cu", "Mn", "Mg", "Zn"])
    for r in rows:
        t.add_row(r["material"], r.get("available_kg", ""), *(r.get(e, "") for e in ("Si", "Fe", "Cu", "Mn", "Mg",
                                                                                     "Zn")))
    stdout_console().print(t)
