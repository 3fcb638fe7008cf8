"""Batch synthesis of simulated spectra.

First version: the reference line-by-line path of :mod:`sorter.simulate` for each spectrum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sorter.instruments import Instrument


def synthesise_counts(compositions: Sequence[Mapping[str, float]], shots, instrument: Instrument, plasma,
                      rng: np.random.Generator, *, noise_scale: float = 1.0, progress=None) -> np.ndarray:
    """Counts, shape (n, pixels), for each composition and shot."""
    from sorter.simulate import detect, shot_radiance

    out = np.empty((len(compositions), instrument.n_pixels))
    for i, (comp, shot) in enumerate(zip(compositions, shots, strict=True)):
        rad = shot_radiance(comp, instrument, shot, plasma)
        out[i] = detect(rad, instrument, rng, ablation_scale=shot.ablation_scale, noise_scale=noise_scale)
        if progress is not None:
            progress(i + 1)
    return out
