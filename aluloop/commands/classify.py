"""``aluloop classify``: grade, family, composition and accept/unknown for spectrum files.

This path runs onnxruntime only; nothing here imports scikit-learn.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from aluloop.errors import user_errors

console = Console()


def _runtime_for(model: str | None, spectrum, cache: dict):
    from sorter.classify.runtime import LibsRuntime, bundled_cards, choose_model, models_dir

    if model is None:
        if "cards" not in cache:
            cache["cards"] = bundled_cards()
        name = choose_model(spectrum, cache["cards"])
        path = cache["cards"][name][0]
    else:
        path = Path(model)
        if not path.suffix == ".onnx":
            path = models_dir() / f"{model}.onnx"
        if not path.exists():
            known = ", ".join(bundled_cards()) or "none"
            raise FileNotFoundError(2, f"no model {model!r} (bundled models: {known})", str(path))
    key = str(path)
    if key not in cache:
        cache[key] = LibsRuntime.load(path)
    return cache[key]


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

    cache: dict = {}
    entries = read_spectrum_files(files, wavelength_column=wavelength_column, intensity_column=intensity_column)
    groups: dict[int, list[int]] = {}
    runtimes = {}
    for i, (_, s) in enumerate(entries):
        rt = _runtime_for(model, s, cache)
        runtimes[id(rt)] = rt
        groups.setdefault(id(rt), []).append(i)
    results: list = [None] * len(entries)
    for rid, members in groups.items():
        for i, r in zip(members, runtimes[rid].classify_many([entries[i][1] for i in members]), strict=True):
            results[i] = r
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
