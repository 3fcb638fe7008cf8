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


def _read(files: list[Path]):
    """(name, Spectrum) for every file; a .npz batch gives one entry per spectrum (``file#i``)."""
    out = []
    for f in files:
        if f.suffix == ".npz":
            from sorter.io.npz import load_batch

            batch = load_batch(f)
            out.extend((f"{f}#{i}", batch.spectrum(i)) for i in range(len(batch)))
        else:
            from sorter.io import read_spectrum

            out.append((str(f), read_spectrum(f)))
    return out


def classify(
    files: list[Path] = typer.Argument(..., help="Spectrum files (CSV, JCAMP-DX) or .npz batches."),
    model: str = typer.Option(None, "--model", help="Bundled model name (e.g. broadband) or a path to an .onnx "
                              "file; default: matched to each file's instrument or wavelength grid."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object per spectrum."),
) -> None:
    """Classify LIBS spectra: grade, family, top-3 probabilities, composition and accept/unknown."""
    from sorter.serving import Sorter
    from sorter.serving.card import ModelIntegrityError

    entries = _read(files)
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
