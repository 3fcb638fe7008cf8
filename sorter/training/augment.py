"""Noisy, shifted copies of a plant's labelled spectra, so a model trained on few of them generalises.

A plant that retrains on its own spectrometer has a few hundred labelled pieces per grade, each
read once: every piece's noise and every wavelength offset is seen exactly once, and an MLP fitted
on them learns that noise. Each copy of a training spectrum here is the same piece as another
read-out of the same instrument would give it:

* a wavelength offset drawn uniformly within +-``max_shift_nm`` (a spectrometer drifts with
  temperature by a few hundredths of a nanometre between calibrations), applied by linear
  interpolation on the spectrum's own grid;
* an intensity scale drawn log-normally with standard deviation ``scale_sd`` (the ablated mass
  varies from piece to piece);
* added Gaussian noise of standard deviation ``noise_fraction`` times the spectrum's own noise,
  measured at its quiet pixels (:class:`~sorter.preprocess.features.NoiseLevel`) and growing with
  the signal as shot noise does: variance ``(f sigma)^2 max(1, (x - x_5) / max(x_50 - x_5, sigma))``
  with ``x_5`` and ``x_50`` the spectrum's 5th and 50th percentile (its floor and its continuum):
  the quiet pixels' noise is taken as that of the continuum, and the variance grows linearly with
  the counts above the floor. A plant's gain and dark level are not known from its spectra alone,
  so this is a scale, not a detector model: at its continuum a copy carries half the spectrum's
  own noise on top of it (sqrt(1 + 0.5^2) = 1.12x in all), on its lines as much more as shot
  noise would add.

The copies keep the piece's grade, composition and plasma state. Only training rows are copied:
the held-out split that the training report and the reject thresholds use stays real spectra.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blending.errors import InputError
from sorter.preprocess.features import NoiseLevel
from sorter.preprocess.grid import resample


@dataclass(frozen=True)
class Augmentation:
    """How many copies of each training spectrum, and how far each may differ from it.

    ``copies`` [-], ``max_shift_nm`` [nm], ``scale_sd`` [-, natural log], ``noise_fraction`` [-].
    """

    copies: int = 3
    max_shift_nm: float = 0.02
    scale_sd: float = 0.05
    noise_fraction: float = 0.5

    def __post_init__(self):
        for name in ("copies", "max_shift_nm", "scale_sd", "noise_fraction"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise InputError(f"augment {name}: {v} must be a finite number >= 0")
        if int(self.copies) != self.copies:
            raise InputError(f"augment copies: {self.copies} must be a whole number")

    def as_dict(self) -> dict[str, float]:
        return {"copies": int(self.copies), "max_shift_nm": self.max_shift_nm, "scale_sd": self.scale_sd,
                "noise_fraction": self.noise_fraction}


def shifted(wavelength_nm, spectrum, shift_nm: float) -> np.ndarray:
    """The spectrum as a spectrometer reading ``shift_nm`` [nm] longer would record it, on the same grid.

    A line at ``lambda_0`` appears at ``lambda_0 + shift_nm``; pixels whose source falls outside the
    grid take the edge value.

    Examples
    --------
    >>> import numpy as np
    >>> wl = np.linspace(300.0, 301.0, 101)
    >>> x = np.exp(-0.5 * ((wl - 300.5) / 0.05) ** 2)
    >>> round(float(wl[np.argmax(shifted(wl, x, 0.1))]), 2)
    300.6
    """
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    return resample(wl, np.asarray(spectrum, dtype=np.float64), wl - shift_nm)


def augment_spectra(wavelength_nm, X, augmentation: Augmentation, rng: np.random.Generator,
                    saturation_counts: float | None = None) -> np.ndarray:
    """``augmentation.copies`` copies of every spectrum, shape (copies * n, p): copy c of row i is row c * n + i.

    Parameters
    ----------
    wavelength_nm : array_like, shape (p,)
        The spectra's common grid [nm], strictly increasing.
    X : array_like, shape (n, p)
        Spectra [counts].
    augmentation : Augmentation
    rng : numpy.random.Generator
    saturation_counts : float, optional
        Detector maximum [counts]: no copy exceeds it.
    """
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != wl.size:
        raise InputError(f"spectra of shape {X.shape} on a grid of {wl.size} pixels: expected (n, {wl.size})")
    n, k = X.shape[0], int(augmentation.copies)
    if k == 0 or n == 0:
        return np.empty((0, wl.size))
    sigma = NoiseLevel().fit(X).transform(X)                     # (n, 1) [counts]
    floor = np.percentile(X, 5, axis=1, keepdims=True)
    level = np.maximum(np.percentile(X, 50, axis=1, keepdims=True) - floor, np.maximum(sigma, 1e-12))
    out = np.empty((k * n, wl.size))
    for c in range(k):
        shifts = rng.uniform(-augmentation.max_shift_nm, augmentation.max_shift_nm, size=n)
        scale = np.exp(rng.normal(0.0, augmentation.scale_sd, size=(n, 1)))
        moved = np.stack([shifted(wl, x, s) for x, s in zip(X, shifts, strict=True)]) * scale
        sd = augmentation.noise_fraction * sigma * np.sqrt(np.maximum(1.0, (moved - floor) / level))
        out[c * n:(c + 1) * n] = moved + sd * rng.standard_normal(moved.shape)
    if saturation_counts is not None:
        np.minimum(out, saturation_counts, out=out)
    return out


def with_copies(wavelength_nm, X, labels, composition, plasma_state, augmentation: Augmentation,
                rng: np.random.Generator, saturation_counts: float | None = None):
    """Training rows followed by their copies: ``(X, labels, composition, plasma_state, pieces)``.

    The copies keep their piece's grade, composition and plasma state (``None`` stays ``None``);
    ``pieces`` (n * (copies + 1),) names each row's piece (its row in ``X``), so that leave-one-out
    errors can leave a piece out with its copies (``GradeWiseComposition.fit(groups=)``).
    """
    copies = augment_spectra(wavelength_nm, X, augmentation, rng, saturation_counts)
    reps = int(augmentation.copies) + 1
    n = np.shape(X)[0]

    def tile(a):
        return None if a is None else np.concatenate([np.asarray(a)] * reps)

    return (np.concatenate([np.asarray(X, dtype=np.float64), copies]), tile(labels), tile(composition),
            tile(plasma_state), np.tile(np.arange(n), reps))
