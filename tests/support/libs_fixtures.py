"""Test fixtures: toy spectra made of Gaussian lines at NIST positions on a smooth continuum.

Not a simulator: line strengths are a crude Boltzmann factor, no Saha balance, no
self-absorption. Enough to exercise the transformers, the ONNX export and the runtime
before (and independently of) ``sorter.simulate``.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np

PACKAGE_LINES = Path(__file__).resolve().parents[2] / "sorter" / "data" / "feature_lines.csv"
MASS = {"Al": 26.98, "Mg": 24.31, "Si": 28.09, "Cu": 63.55, "Fe": 55.85, "Mn": 54.94, "Zn": 65.38, "Cr": 52.0,
        "Ti": 47.87, "Ni": 58.69, "Pb": 207.2, "Sn": 118.7, "Li": 6.94}

# toy grades: mean composition [wt%] and relative spread
TOY_GRADES = {
    "1050A": {"Fe": 0.3, "Si": 0.1},
    "3003": {"Mn": 1.2, "Fe": 0.5, "Si": 0.3, "Cu": 0.1},
    "5182": {"Mg": 4.5, "Mn": 0.35, "Fe": 0.2, "Si": 0.1},
    "6061": {"Mg": 1.0, "Si": 0.6, "Cu": 0.28, "Cr": 0.2, "Fe": 0.4},
    "copper": {"Cu": 99.9, "Al": 0.0},
}


@cache
def _lines() -> tuple[tuple[str, float, float], ...]:
    """(element, wavelength [nm], relative strength) at the feature-line positions (NIST air wavelengths).

    Strengths are fixed pseudo-random numbers between 0.2 and 1: a fixture, not physics.
    """
    rng = np.random.default_rng(1234)
    out = []
    with PACKAGE_LINES.open() as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")][1:]
    for r in rows:
        for lam in sorted({float(r[3]), float(r[4])}):
            out.append((r[1], lam, float(rng.uniform(0.2, 1.0))))
    return tuple(out)


def toy_spectrum(wl: np.ndarray, comp: dict[str, float], rng: np.random.Generator, *, fwhm_nm: float = 0.1,
                 scale: float = 2e4, noise: float = 1.0, continuum: float = 200.0, offset_nm: float = 0.0,
                 dark: float = 300.0) -> np.ndarray:
    comp = dict(comp)
    comp.setdefault("Al", max(0.0, 100.0 - sum(comp.values())))
    sigma = fwhm_nm / 2.3548
    y = continuum * (1.0 + 0.5 * np.exp(-(wl - 250.0) / 150.0))
    lines = _lines()
    strength_max = max(s for _, _, s in lines)
    for el, lam, s in lines:
        w = comp.get(el, 0.0)
        if w <= 0:
            continue
        amp = scale * (w / MASS[el]) / (100.0 / MASS["Al"]) * s / strength_max
        if lam < wl[0] - 1 or lam > wl[-1] + 1:
            continue
        y = y + amp * np.exp(-0.5 * ((wl - lam - offset_nm) / sigma) ** 2)
    counts = rng.poisson(np.maximum(y, 0.0)).astype(float) if noise > 0 else y
    counts = counts + (y - counts) * (1.0 - noise) if noise > 0 else counts
    return counts + dark + rng.normal(0.0, 4.0 * max(noise, 0.0), size=wl.size)


def toy_batch(wl: np.ndarray, n_per_grade: int, seed: int, grades=None, **kwargs):
    """(X, labels, composition (n, E), elements) for toy grades with compositions spread +-15%."""
    rng = np.random.default_rng(seed)
    grades = list(grades or TOY_GRADES)
    elements = ("Si", "Fe", "Cu", "Mn", "Mg", "Cr")
    X, y, Y = [], [], []
    for g in grades:
        for _ in range(n_per_grade):
            comp = {e: min(100.0, v * rng.uniform(0.85, 1.15)) for e, v in TOY_GRADES[g].items() if e != "Al"}
            shot = dict(kwargs)
            shot.setdefault("scale", 2e4 * np.exp(rng.normal(0, 0.25)))
            X.append(toy_spectrum(wl, comp, rng, **shot))
            y.append(g)
            Y.append([comp.get(e, 0.0) for e in elements])
    return np.array(X), np.array(y), np.array(Y), elements
GRID = np.linspace(240.0, 420.0, 1500)
