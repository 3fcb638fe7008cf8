"""``aluloop classify``: grade, family, composition and accept/unknown for spectrum files.

This path runs onnxruntime only; nothing here imports scikit-learn.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from aluloop.errors import fail, user_errors

console = Console()




def classify(
    files: list[Path] = typer.Argument(..., help="Spectrum files (CSV, JCAMP-DX) or .npz batches."),
    model: str = typer.Option(None, "--model", help="Bundled model name (e.g. broadband) or a path to an .onnx "
                              "file; default: matched to each file's instrument or wavelength grid."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object per spectrum."),
    wavelength_column: str = typer.Option(None, "--wavelength-column", help="Header name (or 1-based number) of "
                                          "the wavelength column of multi-column text files; default: by name."),
    intensity_column: str = typer.Option(None, "--intensity-column", help="Header name (or 1-based number) of "
                                         "the intensity column of multi-column text files; default: a "
                                         "dark-subtracted column, else intensity/counts/spectrum/sample."),
) -> None:
    """Classify LIBS spectra: grade, family, top-3 probabilities, composition and accept/unknown."""
    from sorter.io import read_spectrum_files
    from sorter.serving import Sorter
    from sorter.serving.card import ModelIntegrityError

    entries = read_spectrum_files(files, wavelength_column=wavelength_column, intensity_column=intensity_column)
    try:
        results = Sorter().classify_many([s for _, s in entries], model=model)
    except ModelIntegrityError as exc:   # not the user's input, but theirs to fix: a model file that was changed
        raise fail(str(exc)) from None
    if json_out:
        for (name, _), r in zip(entries, results, strict=True):
            print(json.dumps(r.to_json(name)))
        return
    table = Table(title="LIBS classification")
    for col in ("file", "grade", "family", "top probabilities", "decision", "reason"):
        table.add_column(col)
    for (name, _), r in zip(entries, results, strict=True):
        probs = ", ".join(f"{g} {p:.3f}" for g, p in r.probabilities.items())
        table.add_row(name, r.grade, r.family, probs, r.decision, r.reason)
    console.print(table)
    notes = {r.composition_note for r in results if r.composition_note}
    for note in sorted(notes):
        n = sum(r.composition_note == note for r in results)
        console.print(f"[yellow]{n} spectr{'um' if n == 1 else 'a'}: {note}[/yellow]")


classify = user_errors(classify)
