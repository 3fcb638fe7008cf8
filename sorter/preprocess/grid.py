"""Pixel-grid arithmetic shared by the transformers and the serving runtime (numpy only).

A spectrum is treated as piecewise constant over each pixel, the pixel spanning the
midpoints to its neighbours. Integrating over a wavelength window then weights each
pixel by its overlap with the window, so a line area does not jump when the line moves
by a fraction of a pixel (wavelength offsets, another instrument's grid).
"""

from __future__ import annotations

import numpy as np

from blending.errors import InputError


def pixel_edges(wavelength_nm: np.ndarray) -> np.ndarray:
    """Edges of the pixels of a strictly increasing grid [nm], shape (p + 1,).

    Inner edges are the midpoints between pixel centres; the outer edges mirror the
    first and last inner ones.
    """
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    if wl.size < 2:
        raise InputError("wavelength_nm: a grid needs at least 2 points", field="wavelength_nm")
    mid = 0.5 * (wl[1:] + wl[:-1])
    return np.concatenate([[wl[0] - (mid[0] - wl[0])], mid, [wl[-1] + (wl[-1] - mid[-1])]])


def window_weights(wavelength_nm: np.ndarray, lo_nm: float, hi_nm: float) -> np.ndarray:
    """Overlap of each pixel with the window [lo_nm, hi_nm] [nm], shape (p,).

    ``intensity @ window_weights(...)`` integrates the piecewise-constant spectrum over the
    window [counts nm]; ``weights / weights.sum()`` averages it.
    """
    edges = pixel_edges(wavelength_nm)
    left = np.clip(edges[:-1], lo_nm, hi_nm)
    right = np.clip(edges[1:], lo_nm, hi_nm)
    return right - left


def interpolation_indices(source_nm: np.ndarray, target_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gather indices and linear weights that map a spectrum on ``source_nm`` onto ``target_nm``.

    Returns ``(index, fraction)`` with ``x_target = x[index] * (1 - fraction) + x[index + 1] * fraction``.
    Target points outside the source range take the nearest edge value (fraction 0 or 1),
    which leaves line windows there flat, with zero area.
    """
    src = np.asarray(source_nm, dtype=np.float64)
    dst = np.asarray(target_nm, dtype=np.float64)
    if src.size < 2:
        raise InputError("source grid: needs at least 2 points")
    index = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, src.size - 2)
    fraction = (dst - src[index]) / (src[index + 1] - src[index])
    return index.astype(np.int64), np.clip(fraction, 0.0, 1.0)


def resample(source_nm: np.ndarray, intensity: np.ndarray, target_nm: np.ndarray) -> np.ndarray:
    """Linear interpolation of one spectrum or a stack (..., p_source) onto ``target_nm``."""
    index, fraction = interpolation_indices(source_nm, target_nm)
    x = np.asarray(intensity)
    return x[..., index] * (1.0 - fraction) + x[..., index + 1] * fraction


def coverage(source_nm: np.ndarray, lo_nm: float, hi_nm: float) -> bool:
    """Whether the source grid spans the whole window [lo_nm, hi_nm]."""
    return bool(source_nm[0] <= lo_nm and source_nm[-1] >= hi_nm)


def same_grid(a_nm: np.ndarray, b_nm: np.ndarray, *, atol_nm: float = 1e-6) -> bool:
    """Whether two grids are the same pixels (so resampling can be skipped)."""
    return a_nm.shape == b_nm.shape and bool(np.allclose(a_nm, b_nm, rtol=0.0, atol=atol_nm))


# How far a spectrometer's wavelength calibration may drift (temperature, re-calibration) and its
# spectra still count as its own: half a pixel, so each line stays within a pixel of where the
# model learnt it; another spectrometer has another pixel count or differs by pixels, not fractions.
SAME_SPECTROMETER_PIXELS = 0.5


def same_spectrometer(a_nm: np.ndarray, b_nm: np.ndarray, *,
                      tolerance_pixels: float = SAME_SPECTROMETER_PIXELS) -> bool:
    """Whether grid ``a_nm`` is the pixels of grid ``b_nm`` [nm], allowing a calibration drift.

    True when both have the same number of pixels and no pixel's wavelength differs by more than
    ``tolerance_pixels`` of ``b_nm``'s median pixel step [-] (half a pixel by default: a drift of
    0.01 nm is 0.06 of a broadband pixel and 0.11 of a highres one).
    """
    a = np.asarray(a_nm, dtype=np.float64)
    b = np.asarray(b_nm, dtype=np.float64)
    if a.shape != b.shape or b.size < 2:
        return False
    step = float(np.median(np.diff(b)))
    return bool(np.max(np.abs(a - b)) <= tolerance_pixels * step)
