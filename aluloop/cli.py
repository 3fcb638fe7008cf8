"""Entry point of the ``aluloop`` command."""

from __future__ import annotations

import os

import typer

from aluloop.commands import (
    blend,
    catalogue,
    classify,
    demo,
    frames,
    keys,
    lots,
    pareto,
    plan,
    serve,
    spectra,
    spectra_simulate,
    train,
    trim,
)
from aluloop.errors import DEBUG_ENV

app = typer.Typer(help="aluloop: closed-loop aluminium recycling, from LIBS spectrum to certified heat.",
                  no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None)  # help texts carry units in brackets, [px/mm], not rich markup


@app.callback()
def options(debug: bool = typer.Option(False, "--debug", help="Print the traceback of an internal error.")) -> None:
    """aluloop: closed-loop aluminium recycling, from LIBS spectrum to certified heat."""
    if debug:
        os.environ[DEBUG_ENV] = "1"


app.add_typer(catalogue.alloys, name="alloys")
app.add_typer(catalogue.materials, name="materials")
app.add_typer(spectra.spectra, name="spectra")
spectra.spectra.command("simulate")(spectra_simulate.simulate)
spectra.spectra.command("plot")(spectra_simulate.plot)
app.command("blend")(blend.blend)
app.command("trim")(trim.trim_command)
app.command("pareto")(pareto.pareto)
app.command("plan")(plan.plan)
app.command("demo")(demo.demo)
app.add_typer(train.app, name="train")
app.command("classify")(classify.classify)
app.command("serve")(serve.serve)
app.add_typer(keys.app, name="keys")
app.add_typer(lots.lots, name="lots")
app.add_typer(frames.frames, name="frames")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
