"""Reference spectra that teach a plant's model where each spectrum's plasma state lies.

A grade's composition regressions are plasma-state experts (:mod:`sorter.training.composition`):
local ridges placed on a two-dimensional plasma coordinate. Simulated training spectra know their
state (1e4 K / T_e, ln n_e); a plant's labelled spectra do not, and the principal components of
their indicator features are a poor stand-in: they mix the state with the grade's chemistry,
while a map learnt on simulated spectra of another instrument reads the state alone
(``bench/classify_accuracy.py``, transfer block, measures both). So when the
training data carry no states, ``train`` simulates a small reference set on a shipped instrument
profile that spans the line windows on the data's grid and learns the map from it
(:func:`sorter.training.model.state_map_from_reference`).

What the reference carries over is only a direction in feature space: how the ion/atom and
upper-level line ratios move with T_e and n_e inside a grade (Saha-Eggert and Boltzmann; Ciucci et
al. 1999, Appl. Spectrosc. 53, 960). The centres, the experts and every coefficient come from the
plant's own spectra, and an offset between the instruments' responses does not change a direction.
"""

from __future__ import annotations

import numpy as np

from blending.errors import InputError
from sorter.instruments import get_instrument, instrument_profiles
from sorter.preprocess.features import LineWindowFeatures
from sorter.serving.families import is_aluminium
from sorter.training.data import DEFAULT_GRADES, simulated_data

# pieces per grade: enough to read the state about as well as the full training set does, at a
# fraction of its simulation time
REFERENCE_PER_GRADE = 200
AUTO = "auto"
NONE = "none"


def check_choice(choice: str) -> str:
    """``choice`` if it is ``auto``, ``none`` or a shipped instrument profile; else an InputError naming the field."""
    if choice not in (AUTO, NONE, *instrument_profiles()):
        raise InputError(f"{choice!r} must be {AUTO}, {NONE} or a shipped instrument profile "
                         f"({', '.join(instrument_profiles())})", field="state_reference")
    return choice


def window_span_nm(wavelength_nm, band_search_nm: float = 2.0) -> tuple[float, float]:
    """The stretch [nm] of ``wavelength_nm`` that a model's line windows on it can read.

    The windows with their background bands next to them, widened by ``band_search_nm`` on each side
    (how far training may move a band, :class:`~sorter.preprocess.features.LineWindowFeatures`), within
    the grid. Pixels outside it feed no feature, so a reference need not cover them.
    """
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    feet = LineWindowFeatures(wl, band_search_nm=0.0).fit().footprints_nm()
    return max(float(wl.min()), float(feet[:, 0].min()) - band_search_nm), \
        min(float(wl.max()), float(feet[:, 1].max()) + band_search_nm)


def reference_profile(wavelength_nm) -> str | None:
    """The shipped instrument profile whose range spans the line windows on ``wavelength_nm``, or None.

    Of several, the one whose median pixel pitch is closest to the data's (its line shapes and window
    areas resemble the data's most).
    """
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    lo, hi = window_span_nm(wl)
    pitch = float(np.median(np.diff(wl)))
    spanning = [inst for inst in instrument_profiles().values()
                if inst.wavelength_min_nm <= lo and inst.wavelength_max_nm >= hi]
    if not spanning:
        return None
    return min(spanning, key=lambda inst: abs(np.log(np.median(np.diff(inst.wavelength_nm)) / pitch))).name


def reference_spectra(wavelength_nm, *, choice: str = AUTO, n_per_grade: int = REFERENCE_PER_GRADE,
                      seed: int = 0, progress=None):
    """Simulated piece spectra with their plasma states for :meth:`LibsModel.fit(reference=)`, or None.

    ``choice``: ``"auto"`` (the profile :func:`reference_profile` picks; None when no shipped profile
    spans the line windows), ``"none"`` (no reference) or a profile name (which must span them,
    :func:`window_span_nm`).
    Returns ``(TrainingData, description)``; description is a dict for the model card.
    """
    if choice == NONE:
        return None, {"profile": None, "reason": "state_reference: none"}
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    if choice == AUTO:
        profile = reference_profile(wl)
        if profile is None:
            lo, hi = window_span_nm(wl)
            return None, {"profile": None, "reason": f"no shipped instrument profile spans the line windows "
                                                     f"at {lo:.1f}-{hi:.1f} nm"}
    else:
        inst = get_instrument(choice)
        lo, hi = window_span_nm(wl)
        if inst.wavelength_min_nm > lo or inst.wavelength_max_nm < hi:
            raise InputError(f"{choice!r} spans {inst.wavelength_min_nm:g}-{inst.wavelength_max_nm:g} nm, the "
                             f"line windows on the data's grid {lo:.1f}-{hi:.1f} nm; it must span them",
                             field="state_reference")
        profile = inst.name
    # every catalogue aluminium grade, whatever the plant's own are: the map is plasma physics, not chemistry
    grades = tuple(g for g in DEFAULT_GRADES if is_aluminium(g))
    kwargs = {} if progress is None else {"progress": lambda desc, done, total: progress(
        "state reference: simulating", done, total)}
    data = simulated_data(profile, n_per_grade, seed, grades=grades, **kwargs)
    return data, {"profile": profile, "n_per_grade": n_per_grade, "seed": seed, "grades": list(grades),
                  "sha256": data.sha256()}
