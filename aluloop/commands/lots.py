"""``aluloop lots``: lots of sorted pieces (this file holds only ``export`` until wip-lots's group is merged)."""

from __future__ import annotations

import typer

from aluloop.commands import lots_export

lots = typer.Typer(help="Lots of sorted pieces: mean chemistry and its uncertainty, as inventory rows.",
                   no_args_is_help=True)
lots.command("export")(lots_export.export)
