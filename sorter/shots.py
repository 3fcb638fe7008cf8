"""What a sorter's laser shots see: surface layers, cleaning shots, misses, and the average it reports.

A piece is hit ``cleaning_shots + n_shots`` times. Shot k ablates a mass fraction f_k of the surface
layer (lacquer, paint, oxide) and 1 - f_k of the metal:

    f_k = coverage * clip(D - k, 0, 1) + coverage * w * exp(-(k - D)) for k >= D,

with D the layer depth in shots (drawn per piece from the layer's range) and w its crater-wall
fraction. The cleaning shots are discarded; the reported spectrum is the mean of the rest. A shot
misses (hits the belt edge or a void) with probability ``miss_rate``; it then ablates 3% of the
usual mass and its spectrum is weak, as classifiers must learn to reject.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from blending.errors import InputError

MISS_ABLATION = 0.03
# A sorter's piece spectrum: the mean of this many shots on the piece (industrial LIBS sorters
# fire a short burst at each piece and report the accumulated spectrum); the bundled models,
# the sample spectra and the accuracy tests all use it. 16 shots at a 1 kHz repetition rate take
# 16 ms, about the time a piece on a 3 m/s belt needs to cross a 50 mm field of view. With 4 shots
# the broadband model graded 97.5% of cool thin-plasma pieces right (bench/README.md).
SHOTS_PER_PIECE = 16


@dataclass(frozen=True)
class SurfaceLayer:
    """A coating or oxide: composition [wt%], depth range [shots], crater-wall fraction [-]."""

    name: str
    composition_wt_pct: dict[str, float]
    depth_shots: tuple[float, float]
    wall_fraction: float
    description: str = ""
    source: str = ""


@cache
def surface_layers() -> dict[str, SurfaceLayer]:
    """The layers of ``sorter/data/surface_layers.toml`` by name."""
    data = tomllib.loads(resources.files("sorter.data").joinpath("surface_layers.toml").read_text())
    out = {}
    for name, t in data.items():
        comp = {str(k): float(v) for k, v in t["composition_wt_pct"].items()}
        total = sum(comp.values())
        if abs(total - 100.0) > 0.5:
            raise InputError(f"surface_layers.toml [{name}]: composition sums to {total:g} wt%, not 100")
        lo, hi = (float(v) for v in t["depth_shots"])
        if not 0 <= lo <= hi:
            raise InputError(f"surface_layers.toml [{name}]: depth_shots must be 0 <= min <= max")
        out[name] = SurfaceLayer(name, comp, (lo, hi), float(t["wall_fraction"]), t.get("description", ""),
                                 t["source"])
    return out


@dataclass(frozen=True)
class ShotPlan:
    """How many shots a piece gets and what covers it.

    Parameters
    ----------
    n_shots : int
        Shots averaged into the reported spectrum (>= 1).
    cleaning_shots : int
        Shots fired first and discarded (>= 0).
    surface : str or None
        ``"lacquer"``, ``"paint"``, ``"oxide"`` or None for bare metal.
    coverage : float
        Share of the laser spot the layer covers [-], 0 to 1.
    miss_rate : float
        Probability that a shot misses [-].
    """

    n_shots: int = 1
    cleaning_shots: int = 0
    surface: str | None = None
    coverage: float = 1.0
    miss_rate: float = 0.0

    def __post_init__(self):
        if self.n_shots < 1:
            raise InputError(f"n_shots: {self.n_shots} must be at least 1", field="n_shots")
        if self.cleaning_shots < 0:
            raise InputError(f"cleaning_shots: {self.cleaning_shots} must be non-negative", field="cleaning_shots")
        if self.surface is not None and self.surface not in surface_layers():
            raise InputError(f"surface: unknown layer {self.surface!r}; known layers: {', '.join(surface_layers())}",
                             field="surface")
        if not 0 <= self.coverage <= 1:
            raise InputError(f"coverage: {self.coverage:g} must be between 0 and 1", field="coverage")
        if not 0 <= self.miss_rate < 1:
            raise InputError(f"miss_rate: {self.miss_rate:g} must be in [0, 1)")

    @property
    def total_shots(self) -> int:
        return self.cleaning_shots + self.n_shots


def layer_fractions(depth_shots: float, total_shots: int, *, coverage: float = 1.0,
                    wall_fraction: float = 0.0) -> np.ndarray:
    """Mass fraction of the surface layer in each shot's ablated material [-] (module notes)."""
    k = np.arange(total_shots, dtype=float)
    through = np.clip(depth_shots - k, 0.0, 1.0)
    wall = np.where(k >= depth_shots, wall_fraction * np.exp(-(k - depth_shots)), 0.0)
    return coverage * np.clip(through + wall, 0.0, 1.0)


def mix(bulk_wt_pct: Mapping[str, float], layer_wt_pct: Mapping[str, float], fraction: float) -> dict[str, float]:
    """Composition [wt%] of ablated material that is ``fraction`` layer and the rest metal."""
    bulk = dict(bulk_wt_pct)
    if "Al" not in bulk:
        bulk["Al"] = max(0.0, 100.0 - sum(bulk.values()))
    keys = set(bulk) | set(layer_wt_pct)
    return {k: (1 - fraction) * bulk.get(k, 0.0) + fraction * layer_wt_pct.get(k, 0.0) for k in keys}


def plan_shots(composition_wt_pct: Mapping[str, float], plan: ShotPlan, rng: np.random.Generator):
    """Composition, layer fraction and miss flag of every shot of one piece.

    Returns
    -------
    compositions : list of dict, length ``plan.total_shots``
    fractions : ndarray [-]
    missed : ndarray of bool
    """
    total = plan.total_shots
    if plan.surface is None:
        fractions = np.zeros(total)
        layer: Mapping[str, float] = {}
    else:
        spec = surface_layers()[plan.surface]
        depth = rng.uniform(*spec.depth_shots)
        fractions = layer_fractions(depth, total, coverage=plan.coverage, wall_fraction=spec.wall_fraction)
        layer = spec.composition_wt_pct
    missed = rng.random(total) < plan.miss_rate
    comps = [mix(composition_wt_pct, layer, f) if f > 0 else dict(composition_wt_pct) for f in fractions]
    return comps, fractions, missed
