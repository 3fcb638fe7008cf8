"""Pictures of spectra with their main emission lines labelled (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from blending.catalogue.tables import read_package_csv
from blending.errors import InputError
from sorter.atomic_data import species_name
from sorter.spectrum import Spectrum


@dataclass(frozen=True)
class MainLine:
    label: str
    wavelength_nm: float


@cache
def main_lines() -> tuple[MainLine, ...]:
    """Lines worth labelling on a plot, from ``sorter/data/main_lines.csv``."""
    rows = read_package_csv("sorter.data", "main_lines.csv",
                            required_columns=("element", "ion_stage", "wavelength_nm", "source"))
    return tuple(MainLine(f"{species_name(r.text('element'), int(r.number('ion_stage', lo=1, hi=3)))} "
                          f"{r.number('wavelength_nm', lo=100, hi=2000):.2f}",
                          r.number("wavelength_nm", lo=100, hi=2000)) for r in rows)


def plot_spectra(spectra: Sequence[Spectrum], names: Sequence[str], out: str | Path, *,
                 xlim: tuple[float, float] | None = None, zoom: tuple[float, float] | None = None,
                 title: str = "", label_fraction: float = 0.04, offset_nm: float = 0.0) -> Path:
    """Plot spectra stacked (one panel each, optional zoom panel) with main lines labelled.

    Parameters
    ----------
    spectra : sequence of Spectrum
    names : sequence of str
        Legend text of each spectrum.
    out : path
        PNG file to write.
    xlim : (float, float), optional
        Wavelength range of the main panels [nm].
    zoom : (float, float), optional
        Range of an extra panel that overlays all spectra [nm].
    label_fraction : float
        Label a main line only where the spectrum there exceeds this share of its maximum.
    offset_nm : float
        Known wavelength offset of the instrument, added to the label positions [nm].

    Returns
    -------
    Path of the PNG written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not spectra:
        raise InputError("plot: no spectra given")
    if len(names) != len(spectra):
        raise InputError(f"plot: {len(names)} names for {len(spectra)} spectra")
    panels = len(spectra) + (1 if zoom else 0)
    fig, axes = plt.subplots(panels, 1, figsize=(12, 3.2 * panels), squeeze=False)
    axes = axes[:, 0]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, spec, name, colour in zip(axes, spectra, names, colours, strict=False):
        _panel(ax, [spec], [name], [colour], xlim, label_fraction, offset_nm)
    if zoom:
        _panel(axes[-1], spectra, names, colours, zoom, label_fraction, offset_nm)
        axes[-1].set_title(f"zoom {zoom[0]:g}-{zoom[1]:g} nm", fontsize=10)
    axes[-1].set_xlabel("wavelength [nm]")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _panel(ax, spectra, names, colours, xlim, label_fraction, offset_nm) -> None:
    top = 0.0
    for spec, name, colour in zip(spectra, names, colours, strict=False):
        wl, y = spec.wavelength_nm, spec.intensity
        sel = slice(None) if xlim is None else (wl >= xlim[0]) & (wl <= xlim[1])
        ax.plot(wl[sel], y[sel], lw=0.7, color=colour, label=name)
        top = max(top, float(y[sel].max()))
    base = min(float(np.median(s.intensity)) for s in spectra)
    candidates = []
    for line in main_lines():
        lam = line.wavelength_nm + offset_nm
        if xlim is not None and not xlim[0] <= lam <= xlim[1]:
            continue
        peak, where = max(_peak_near(s, lam) for s in spectra)
        if peak - base >= label_fraction * (top - base):
            # on a shared peak the line closest to the maximum wins
            candidates.append((peak, -abs(where - lam), lam, line.label))
    span = ax.get_xlim()[1] - ax.get_xlim()[0]
    placed: list[float] = []
    for peak, _, lam, label in sorted(candidates, reverse=True):  # strongest first
        if any(abs(lam - p) < 0.006 * span for p in placed):
            continue
        placed.append(lam)
        ax.annotate(label, (lam, peak), xytext=(0, 4), textcoords="offset points", rotation=90,
                    fontsize=7, ha="center", va="bottom")
    ax.set_ylim(top=top * 1.35)
    ax.set_ylabel("counts")
    ax.legend(loc="upper right", fontsize=8)


def _peak_near(spec: Spectrum, lam: float, half: float = 0.3) -> tuple[float, float]:
    """Height and position of the largest value within +-half of ``lam``."""
    sel = np.flatnonzero(np.abs(spec.wavelength_nm - lam) <= half)
    if sel.size == 0:
        return -np.inf, lam
    i = sel[np.argmax(spec.intensity[sel])]
    return float(spec.intensity[i]), float(spec.wavelength_nm[i])
