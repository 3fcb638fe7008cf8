"""``aluloop classify``: grade, family, composition and accept/unknown for spectrum files.

A sorting batch survives one bad file: files, folders and quoted patterns are all taken; a file
that holds no spectrum (``manifest.csv`` beside the spectra) or fails to parse is left out with a
one-line note on stderr naming it, the rest are classified, and the command fails (exit 2) only when
nothing could be. This path runs onnxruntime only; nothing here imports scikit-learn.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from aluloop.errors import fail, user_errors
from aluloop.output import stdout_console, table
from blending.errors import InputError

stderr = Console(stderr=True)


def classify(
    files: list[Path] = typer.Argument(..., help="Spectrum files (CSV, JCAMP-DX), .npz batches, folders of them, "
                                       "or quoted patterns ('sample_spectra/*.jdx'); files that hold no spectrum "
                                       "are skipped with a note."),
    model: str = typer.Option(None, "--model", help="Bundled model name (e.g. broadband) or a path to an .onnx "
                              "file; default: matched to each file's instrument or wavelength grid."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object per spectrum."),
    wavelength_column: str = typer.Option(None, "--wavelength-column", help="Header name (or 1-based number) of "
                                          "the wavelength column of multi-column text files; default: by name."),
    intensity_column: str = typer.Option(None, "--intensity-column", help="Header name (or 1-based number) of "
                                         "the intensity column of multi-column text files; default: a "
                                         "dark-subtracted column, else intensity/counts/spectrum/sample."),
    min_accept_probability: float = typer.Option(None, "--min-accept-probability", help="Accept a piece only when "
                                                 "its top grade reaches this probability, for every grade pair; "
                                                 "default: each model card's bars, calibrated per grade pair so "
                                                 "that accepted pieces are right at least 99.5% of the time."),
) -> None:
    """Classify LIBS spectra: grade, family, top-3 probabilities, composition and accept/unknown."""
    from sorter.io import gather_spectrum_files
    from sorter.serving import Sorter
    from sorter.serving.card import ModelIntegrityError

    sorter = Sorter(min_accept_probability=min_accept_probability)   # a bad bar is refused before any file is read
    found = gather_spectrum_files(files, wavelength_column=wavelength_column, intensity_column=intensity_column)
    if not found.spectra and len(found.skipped) == 1:   # one file named, and it is no spectrum: its error alone
        raise InputError(found.skipped[0])
    for note in found.skipped:
        stderr.print(f"[yellow]skipped[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    if not found.spectra:
        raise InputError(f"no spectrum could be read from {' '.join(map(str, files))}"
                         + (f" ({len(found.skipped)} files skipped)" if found.skipped else ""), field="files")
    entries = found.spectra
    try:
        results = sorter.classify_many([s for _, s in entries], model=model)
    except ModelIntegrityError as exc:   # not the user's input, but theirs to fix: a model file that was changed
        raise fail(str(exc)) from None
    if json_out:
        for (name, _), r in zip(entries, results, strict=True):
            print(json.dumps(r.to_json(name), allow_nan=False))
        return
    out = stdout_console()
    rows = table("LIBS classification", ["file", "grade", "family", "top probabilities", "decision", "reason"])
    for (name, _), r in zip(entries, results, strict=True):
        probs = ", ".join(f"{g} {p:.3f}" for g, p in r.probabilities.items()) or "-"
        rows.add_row(escape(name), r.grade or "-", r.family or "-", probs, r.decision, escape(r.reason))
    out.print(rows)
    notes = {r.composition_note for r in results if r.composition_note}
    for note in sorted(notes):
        n = sum(r.composition_note == note for r in results)
        out.print(f"[yellow]{n} spectr{'um' if n == 1 else 'a'}: {escape(note)}[/yellow]", soft_wrap=True)


classify = user_errors(classify)
