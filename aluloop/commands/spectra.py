"""``aluloop spectra``: look at LIBS spectrum files (text or JCAMP-DX)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from aluloop.errors import user_errors
from aluloop.output import stdout_console, table
from sorter.io import read_spectrum, sniff_format
from sorter.spectrum import Spectrum

spectra = typer.Typer(help="LIBS spectrum files: CSV/TSV text and JCAMP-DX.", no_args_is_help=True)


def spectrum_summary(path: Path, spectrum: Spectrum, fmt: str) -> dict:
    """What ``spectra info`` reports for one file, as JSON-ready values."""
    md = spectrum.metadata
    lo, hi = spectrum.range_nm
    return {"file": str(path), "format": fmt, "n_points": spectrum.n_points, "range_nm": [lo, hi],
            "metadata": {"instrument": md.instrument, "shots": md.shots,
                         "timestamp": md.timestamp.isoformat() if md.timestamp else None,
                         "piece_id": md.piece_id, **md.extra}}


@spectra.command("info")
@user_errors
def info(files: list[Path] = typer.Argument(..., help="Spectrum files (.csv .txt .tsv .jdx .dx .jcamp)."),
         json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Format, number of points, wavelength range and metadata of each spectrum file."""
    summaries = []
    for path in files:
        fmt = sniff_format(path)
        summaries.append(spectrum_summary(path, read_spectrum(path), "jcamp-dx" if fmt == "jcamp" else fmt))
    if json_out:
        print(json.dumps(summaries, indent=2))
        return
    rows = table("Spectrum files", ["file", "format", "points", "range nm", "metadata"])
    for s in summaries:
        lo, hi = s["range_nm"]
        meta = ", ".join(f"{k}={v}" for k, v in s["metadata"].items() if v not in (None, ""))
        rows.add_row(escape(s["file"]), s["format"], str(s["n_points"]), f"{lo:.6g}-{hi:.6g}", escape(meta))
    stdout_console().print(rows)
