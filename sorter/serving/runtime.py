"""One verified ONNX model with its card, classifying spectra with onnxruntime and numpy only.

Load a model and its card, check the sha256, resample each spectrum onto the model's
grid in numpy (a gather and a lerp), run the ONNX graph, then pick family and grade
and apply the reject option. ``tests/sorter/serving/test_runtime.py`` checks in a
subprocess that importing and using this module never imports scikit-learn.

A grid that misses some of the model's line windows (an instrument of a narrower range) gets
decision ``unknown`` with the windows named, and no composition (None, with a note): outside the
grid the resampled spectrum is flat, so a missing line reads as an absent element, which moves
the grade and every element's estimate (each reads the aluminium references and the plasma-state
lines). Served anyway, such a spectrum would be binned in a wrong grade without being sent round.

A spectrum from another spectrometer (it names another instrument, or names none and is not on the
model's grid) gets grade, family and decision but no composition (:meth:`LibsRuntime.calibration_note`):
the regressions carry the training spectrometer's spectral response. Where the model carries a family
head (``sorter/serving/family_head.py``), such a spectrum's family is the head's, read from thin-line
ratios that hold on other spectrometers and plasmas, and a piece the head cannot place goes round.

A runtime is safe to share between threads: onnxruntime's ``run`` is, and the resampling plans
(one per input grid) sit in a bounded LRU behind a lock, so a client that sends ever new grids
cannot grow it without limit.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import onnxruntime as ort

from blending.errors import InputError
from sorter.preprocess.grid import interpolation_indices, same_grid, same_spectrometer
from sorter.serving.card import ModelCard, Thresholds, card_path_for, verify
from sorter.serving.family_head import FamilyHeadCard, with_family_head
from sorter.serving.reject import QUALITY_COLUMNS, UNKNOWN, decide
from sorter.spectrum import Spectrum, SpectrumError

UNREAD = ("the model's outputs for this spectrum are not numbers (an empty or flat spectrum, or counts "
          "beyond what the model reads)")

# input grids whose resampling plan a runtime keeps: a sorting line sends one or two, a
# service a few per client instrument
RESAMPLE_CACHE_SIZE = 32


@dataclass(frozen=True)
class Classification:
    """What the sorter decides for one spectrum."""

    grade: str
    family: str
    probabilities: dict[str, float]
    composition_wt_pct: dict[str, float | None]
    interval_wt_pct: dict[str, tuple[float, float] | None]
    decision: str
    reason: str
    quality: dict[str, float | None] = field(default_factory=dict)
    composition_note: str = ""

    def to_json(self, file: str = "") -> dict:
        out = {"file": file, "grade": self.grade, "family": self.family, "probabilities": self.probabilities,
               "composition_wt_pct": self.composition_wt_pct,
               "composition_interval_wt_pct": {k: None if iv is None else list(iv)
                                               for k, iv in self.interval_wt_pct.items()},
               "composition_note": self.composition_note,
               "decision": self.decision, "reason": self.reason}
        return out


@dataclass(frozen=True)
class GridCoverage:
    """The line windows of a model whose footprint (window and background bands) an input grid
    (``lo_nm`` to ``hi_nm``) does not span end to end."""

    missing_windows: tuple[str, ...] = ()
    n_windows: int = 0
    lo_nm: float = 0.0
    hi_nm: float = 0.0
    own_grid: bool = True       # the model's own pixels, allowing a drift of SAME_SPECTROMETER_PIXELS

    def _names(self) -> str:
        return ", ".join(self.missing_windows[:4]) + (", ..." if len(self.missing_windows) > 4 else "")

    @property
    def reason(self) -> str:
        """Why every spectrum on this grid is recirculated ("" when the grid spans every window)."""
        if not self.missing_windows:
            return ""
        return (f"grid {self.lo_nm:g}-{self.hi_nm:g} nm misses {len(self.missing_windows)} of the model's "
                f"{self.n_windows} line windows ({self._names()}): a missing line reads as an absent element; "
                f"train a model on this instrument (aluloop train libs)")

    @property
    def composition_note(self) -> str:
        if not self.missing_windows:
            return ""
        return (f"composition withheld: the grid misses line windows of the model ({self._names()}) that every "
                f"element's estimate reads")


def grid_coverage(card: ModelCard, wavelength_nm: np.ndarray) -> GridCoverage:
    """What a grid ``wavelength_nm`` [nm] (ascending) leaves out of the model's line windows."""
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    # a window reads its background bands too: the grid must span its footprint, not just the window
    missing = tuple(w["name"] for w in card.line_windows
                    if wl[0] > w["footprint_lo_nm"] or wl[-1] < w["footprint_hi_nm"])
    # the training spectrometer's pixels, even when its wavelength calibration drifted since
    own = same_spectrometer(wl, np.asarray(card.wavelength_grid_nm, dtype=np.float64))
    return GridCoverage(missing, len(card.line_windows), float(wl[0]), float(wl[-1]), own)


def accept_thresholds(thresholds: Thresholds, min_accept_probability: float | None) -> Thresholds:
    """``thresholds`` with one accept bar for every grade pair, ``min_accept_probability`` [-] (None: as they are).

    A line that wants another trade-off than the card's calibrated bars (fewer pieces sent round,
    or fewer wrong ones) sets it here; the card's per-pair bars then no longer apply.
    """
    if min_accept_probability is None:
        return thresholds
    try:
        value = float(min_accept_probability)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value <= 1.0:   # NaN fails too
        raise InputError(f"{min_accept_probability!r} is not a probability; give a number above 0 and at most 1 "
                         f"(the card's calibrated bars apply when it is not given)", field="min_accept_probability")
    return replace(thresholds, min_top_probability=value, pair_min_top_probability={})


def session_options(threads: int = 1) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return opts


class LibsRuntime:
    """A verified ONNX model with its card, ready to classify spectra.

    Examples
    --------
    >>> rt = LibsRuntime.load("models/broadband.onnx")            # doctest: +SKIP
    >>> rt.classify(spectrum).decision                             # doctest: +SKIP
    'accept'
    """

    def __init__(self, model_bytes: bytes, card: ModelCard, *, name: str = "model", threads: int = 1,
                 resample_cache_size: int = RESAMPLE_CACHE_SIZE):
        verify(model_bytes, card, name)
        self.card = card
        self.name = name
        self.session = ort.InferenceSession(model_bytes, session_options(threads), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.grid_nm = np.asarray(card.wavelength_grid_nm, dtype=np.float64)
        self.classes = list(card.classes)
        # a family head is used only when both the graph and the card carry it
        self.family_head = (FamilyHeadCard.from_card(card.family_head)
                            if "family_probabilities" in self.output_names else None)
        head_outputs = ("family_probabilities", "family_distance")
        self._names_without_head = [n for n in self.output_names if n not in head_outputs]
        self.resample_cache_size = resample_cache_size
        self._resample_cache: OrderedDict[bytes, tuple[np.ndarray, np.ndarray, GridCoverage]] = OrderedDict()
        self._resample_lock = threading.Lock()

    @classmethod
    def load(cls, model_path: str | Path, card_path: str | Path | None = None, *, threads: int = 1,
             resample_cache_size: int = RESAMPLE_CACHE_SIZE) -> LibsRuntime:
        """Read ``model_path`` and its card (default: ``NAME.card.json`` beside it); refuse a sha256 mismatch."""
        model_path = Path(model_path)
        try:
            data = model_path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(2, "model not found", str(model_path)) from None
        card = ModelCard.read(card_path or card_path_for(model_path))
        return cls(data, card, name=model_path.name, threads=threads, resample_cache_size=resample_cache_size)

    # ---- raw graph --------------------------------------------------------------------------
    def run(self, spectra_on_grid: np.ndarray, *, family_head: bool = True) -> dict[str, np.ndarray]:
        """The ONNX outputs for spectra already on the model grid, shape (n, p); without the family
        head's outputs when ``family_head`` is False (onnxruntime then skips the head's nodes)."""
        with np.errstate(over="ignore"):   # counts beyond float32 become inf; interpret() withholds their answer
            x = np.ascontiguousarray(spectra_on_grid, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.grid_nm.size:
            raise SpectrumError(f"spectra: expected shape (n, {self.grid_nm.size}) on the model grid, got {x.shape}")
        names = self.output_names if family_head or self.family_head is None else self._names_without_head
        return dict(zip(names, self.session.run(names, {self.input_name: x}), strict=True))

    def needs_family_head(self, coverage: GridCoverage, instrument: str = "") -> bool:
        """Whether the family head decides these spectra's family: only for another spectrometer's."""
        return self.family_head is not None and bool(coverage.missing_windows
                                                     or self.calibration_note(coverage, instrument))

    # ---- resampling ---------------------------------------------------------------------------
    def to_grid(self, wavelength_nm: np.ndarray, intensity: np.ndarray) -> tuple[np.ndarray, GridCoverage]:
        """Spectra (n, p_in) on ``wavelength_nm`` moved onto the model grid, and what the grid misses."""
        wl = np.asarray(wavelength_nm, dtype=np.float64)
        x = np.atleast_2d(np.asarray(intensity, dtype=np.float64))
        if self._on_model_grid(wl):
            return x, GridCoverage()
        idx, frac, coverage = self._resample_plan(wl)
        return x[:, idx] * (1.0 - frac) + x[:, idx + 1] * frac, coverage

    def _on_model_grid(self, wl: np.ndarray) -> bool:
        """:func:`same_grid` with the model grid, its common case (every pixel within 1e-6 nm) checked
        first without ``np.allclose``'s overhead (a tenth of the cost, paid on every request)."""
        grid = self.grid_nm
        if wl.shape == grid.shape:
            with np.errstate(invalid="ignore"):
                if bool((np.abs(wl - grid) <= 1e-6).all()):
                    return True
        return same_grid(wl, grid)

    def _resample_plan(self, wl: np.ndarray) -> tuple[np.ndarray, np.ndarray, GridCoverage]:
        """Gather indices, weights and coverage for input grid ``wl``, from the LRU or computed once."""
        key = wl.tobytes()
        with self._resample_lock:
            plan = self._resample_cache.get(key)
            if plan is not None:
                self._resample_cache.move_to_end(key)
                return plan
        if wl[-1] <= self.grid_nm[0] or wl[0] >= self.grid_nm[-1]:
            raise SpectrumError(f"wavelength_nm: spectrum covers {wl[0]:g}-{wl[-1]:g} nm; the model "
                                f"{self.name} needs {self.grid_nm[0]:g}-{self.grid_nm[-1]:g} nm")
        # computed outside the lock (two threads may both compute a new grid's plan: same result)
        idx, frac = interpolation_indices(wl, self.grid_nm)
        plan = (idx, frac.astype(np.float64), grid_coverage(self.card, wl))
        with self._resample_lock:
            self._resample_cache[key] = plan
            self._resample_cache.move_to_end(key)
            while len(self._resample_cache) > self.resample_cache_size:
                self._resample_cache.popitem(last=False)
        return plan

    def cached_grids(self) -> int:
        """How many input grids' resampling plans this runtime holds (at most ``resample_cache_size``)."""
        with self._resample_lock:
            return len(self._resample_cache)

    # ---- decisions ----------------------------------------------------------------------------
    def classify_array(self, wavelength_nm: np.ndarray, intensity: np.ndarray, *,
                       instrument: str = "", min_accept_probability: float | None = None) -> list[Classification]:
        """Classify spectra (n, p_in) sharing one grid ``wavelength_nm``, from ``instrument`` ("": not said).

        ``min_accept_probability`` replaces the card's accept bars (:func:`accept_thresholds`).
        """
        thresholds = accept_thresholds(self.card.thresholds, min_accept_probability)
        x, coverage = self.to_grid(wavelength_nm, intensity)
        out = self.run(x, family_head=self.needs_family_head(coverage, instrument))
        return self.interpret(out, coverage=coverage, instrument=instrument, thresholds=thresholds)

    def calibration_note(self, coverage: GridCoverage, instrument: str = "") -> str:
        """Why the composition of spectra from another spectrometer is withheld ("" when it is not).

        The composition regressions read ratios of lines far apart in wavelength, so they carry the
        training spectrometer's spectral response: on an unseen instrument the composition is off by
        more than a grade's mean would be, while grade and family hold
        (``research/composition_coverage.py --unseen``). A spectrum is
        taken as from another spectrometer when it names one, or names none and is not on the
        model's own grid: the same pixels, each within ``SAME_SPECTROMETER_PIXELS`` (half a pixel)
        of the card's wavelength, so a drifted wavelength calibration is still the same instrument.
        """
        own = self.card.instrument
        if instrument and own and instrument != own:
            source = f"comes from instrument '{instrument}'"
        elif not instrument and not coverage.own_grid:
            source = "is not on the model's grid, so comes from another spectrometer"
        else:
            return ""
        return (f"composition withheld: the model is calibrated on '{own}' spectra and this one {source}, whose "
                f"spectral response it does not know; train a model on that instrument (aluloop train libs)")

    def interpret(self, out: dict[str, np.ndarray], *, coverage: GridCoverage = GridCoverage(),
                  instrument: str = "", thresholds: Thresholds | None = None) -> list[Classification]:
        P = out["probabilities"].astype(np.float64)
        quality = out["quality"].astype(np.float64)
        comp = out["composition_wt_pct"].astype(np.float64)
        half = out["interval_halfwidth_wt_pct"].astype(np.float64)
        dist = out.get("class_distance")
        decisions = decide(P, quality, self.classes, self.card.families, thresholds or self.card.thresholds,
                           None if dist is None else dist.astype(np.float64))
        # On its own spectrometer the grade classifier, which knows that instrument's response, keeps the
        # family (the head, trained over random instruments, places 0.97 there against 1.000 and would send
        # 18% round); on another spectrometer only what transfers decides: the family head.
        if self.needs_family_head(coverage, instrument):
            decisions = with_family_head(decisions, P, out["family_probabilities"].astype(np.float64),
                                         out["family_distance"].astype(np.float64), self.classes,
                                         self.card.families, self.family_head)
        elements = self.card.elements
        # a mass fraction lies in 0-100 wt% whatever the interval's width (an empty shot's is wide)
        lo, hi = np.maximum(comp - half, 0.0).tolist(), np.minimum(comp + half, 100.0).tolist()
        tops = np.argsort(-P, axis=1, kind="stable")[:, :3].tolist()
        P_rows, comp_rows, quality_rows = P.tolist(), comp.tolist(), quality.tolist()
        note = coverage.composition_note or self.calibration_note(coverage, instrument)
        # a spectrum the graph cannot read (all zeros, counts beyond float32) gives NaN: say so, never a number
        unread = ~(np.isfinite(P).all(axis=1) & np.isfinite(comp).all(axis=1) & np.isfinite(half).all(axis=1))
        results = []
        for i, d in enumerate(decisions):
            decision, reason = d.decision, d.reason
            if coverage.reason:
                decision, reason = UNKNOWN, coverage.reason
            if unread[i]:
                results.append(Classification(
                    grade="", family="", probabilities={}, composition_wt_pct=dict.fromkeys(elements),
                    interval_wt_pct=dict.fromkeys(elements), decision=UNKNOWN,
                    reason=reason if decision == UNKNOWN else UNREAD,
                    quality={k: v if np.isfinite(v) else None for k, v in zip(QUALITY_COLUMNS, quality_rows[i],
                                                                               strict=True)},
                    composition_note=f"grade and composition withheld: {UNREAD}"))
                continue
            if note:
                composition = dict.fromkeys(elements)
                interval = dict.fromkeys(elements)
            else:
                composition = {e: round(c, 4) for e, c in zip(elements, comp_rows[i], strict=True)}
                interval = {e: (round(a, 4), round(b, 4)) for e, a, b in zip(elements, lo[i], hi[i], strict=True)}
            results.append(Classification(
                grade=d.grade, family=d.family,
                probabilities={self.classes[j]: round(P_rows[i][j], 4) for j in tops[i]},
                composition_wt_pct=composition, interval_wt_pct=interval,
                decision=decision, reason=reason,
                quality=dict(zip(QUALITY_COLUMNS, quality_rows[i], strict=True)), composition_note=note))
        return results

    def classify(self, spectrum: Spectrum) -> Classification:
        return self.classify_array(spectrum.wavelength_nm, spectrum.intensity[None, :],
                                   instrument=spectrum.metadata.instrument)[0]

    def classify_many(self, spectra: Sequence[Spectrum]) -> list[Classification]:
        """Classify spectra on any grids, batching those that share one grid and instrument."""
        results: list[Classification | None] = [None] * len(spectra)
        groups: dict[tuple[bytes, str], list[int]] = {}
        for i, s in enumerate(spectra):
            groups.setdefault((s.wavelength_nm.tobytes(), s.metadata.instrument), []).append(i)
        for (_, instrument), members in groups.items():
            wl = spectra[members[0]].wavelength_nm
            batch = np.stack([spectra[i].intensity for i in members])
            for i, r in zip(members, self.classify_array(wl, batch, instrument=instrument), strict=True):
                results[i] = r
        return results  # type: ignore[return-value]


def window_coverage(card: ModelCard, wavelength_nm: np.ndarray) -> float:
    """Share of the model's line windows that a grid spans [-]."""
    wl = np.asarray(wavelength_nm)
    if not card.line_windows:
        lo, hi = card.wavelength_grid_nm[0], card.wavelength_grid_nm[-1]
        return max(0.0, min(wl[-1], hi) - max(wl[0], lo)) / (hi - lo)
    return 1.0 - len(grid_coverage(card, wl).missing_windows) / len(card.line_windows)
