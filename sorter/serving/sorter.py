"""The sorting entry point: one object that every front end (CLI, HTTP service, demo, reports) calls.

A :class:`Sorter` reads the model cards once (the bundled ones, a folder's, or given ``.onnx``
paths), loads each ONNX runtime once, on first use, picks the model for each spectrum's
instrument and grid (:func:`~sorter.serving.registry.model_for_grid`) and classifies one spectrum,
a list of spectra (batched per grid and instrument) or an array of spectra on one grid.

It is meant to be built once per process and shared: loading is guarded by a lock, onnxruntime's
``run`` is thread-safe, and each runtime's resampling plans sit in a bounded LRU of their own.
onnxruntime and numpy only: nothing here imports scikit-learn.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from blending.errors import NotFoundError
from sorter.serving.card import ModelCard, Thresholds, card_path_for
from sorter.serving.registry import bundled_cards, model_for_grid
from sorter.serving.runtime import RESAMPLE_CACHE_SIZE, Classification, LibsRuntime, accept_thresholds
from sorter.spectrum import Spectrum, SpectrumError

Model = str | Path


class Sorter:
    """Classify LIBS spectra with the right model for each.

    Parameters
    ----------
    models : folder, list of .onnx paths, or None
        Where the models come from: None, the bundled models (:func:`~sorter.serving.registry.models_dir`);
        a folder, every ``NAME.onnx`` with its ``NAME.card.json`` in it; a list of ``.onnx`` paths,
        each with the card beside it. A model's name is its file's stem.
    threads : int
        onnxruntime intra-op threads per model (1 suits a sorting line: one spectrum at a time,
        and a service runs requests side by side instead).
    resample_cache_size : int
        Input grids whose resampling plan each model keeps (least recently used dropped first).
    min_accept_probability : float, optional
        One accept bar for every grade pair [-], instead of the bars each model's card calibrated
        (accepted pieces right at least 99.5% of the time on held-out pieces). Each ``classify*``
        call may override it again.

    Examples
    --------
    >>> sorter = Sorter()                                   # doctest: +SKIP
    >>> sorter.classify(read_spectrum("piece.csv")).grade   # doctest: +SKIP
    '5182'
    """

    def __init__(self, models: str | Path | Sequence[str | Path] | None = None, *, threads: int = 1,
                 resample_cache_size: int = RESAMPLE_CACHE_SIZE, min_accept_probability: float | None = None):
        accept_thresholds(Thresholds(), min_accept_probability)   # refuse a bad value now, not on first use
        self.min_accept_probability = min_accept_probability
        self._source = models
        self.threads = threads
        self.resample_cache_size = resample_cache_size
        self._lock = threading.Lock()
        self._cards: dict[str, tuple[Path, ModelCard]] | None = None
        self._runtimes: dict[str, LibsRuntime] = {}
        # model name -> its loaded runtime: a name always means the same file (the cards are read
        # once), so a name's lookup skips resolving the file path (a realpath per call)
        self._by_name: dict[str, LibsRuntime] = {}

    # ---- models -------------------------------------------------------------------------------
    @property
    def cards(self) -> dict[str, tuple[Path, ModelCard]]:
        """Model name -> (ONNX path, card) of every model this sorter may pick, read once."""
        with self._lock:
            if self._cards is None:
                self._cards = self._read_cards()
            return self._cards

    def _read_cards(self) -> dict[str, tuple[Path, ModelCard]]:
        source = self._source
        if source is None or isinstance(source, str | Path):
            return bundled_cards(source)
        out = {}
        for path in map(Path, source):
            out[path.stem] = (path, ModelCard.read(card_path_for(path)))
        return out

    @property
    def model_names(self) -> list[str]:
        return list(self.cards)

    def runtime(self, model: Model) -> LibsRuntime:
        """The loaded runtime of ``model``: a name of :attr:`cards` or a path to an ``.onnx`` file.

        Loaded once, on first use; an unknown name is a :class:`~blending.errors.NotFoundError`
        (field ``model``) listing the models there are.
        """
        by_name = isinstance(model, str) and not model.endswith(".onnx")
        if by_name:
            runtime = self._by_name.get(model)
            if runtime is not None:
                return runtime
        path = self._model_path(model)
        key = str(path.resolve())
        runtime = self._runtimes.get(key)
        if runtime is None:
            with self._lock:
                runtime = self._runtimes.get(key)
                if runtime is None:
                    runtime = LibsRuntime.load(path, threads=self.threads,
                                               resample_cache_size=self.resample_cache_size)
                    self._runtimes[key] = runtime
        if by_name:
            self._by_name[model] = runtime
        return runtime

    def _model_path(self, model: Model) -> Path:
        if isinstance(model, Path) or str(model).endswith(".onnx"):
            return Path(model)
        cards = self.cards
        if model not in cards:
            where = "bundled models" if self._source is None else f"models in {self._describe_source()}"
            raise NotFoundError(f"no model {model!r} ({where}: {', '.join(cards) or 'none'})", field="model")
        return cards[model][0]

    def _describe_source(self) -> str:
        if isinstance(self._source, str | Path):
            return str(self._source)
        return "the given files"

    def model_for(self, wavelength_nm: np.ndarray, instrument: str = "") -> str:
        """The name of the model for spectra on ``wavelength_nm`` [nm] from ``instrument`` ("": not said)."""
        return model_for_grid(wavelength_nm, instrument, self.cards)

    # ---- classification -------------------------------------------------------------------------
    def classify(self, spectrum: Spectrum, *, model: Model | None = None,
                 min_accept_probability: float | None = None) -> Classification:
        """Grade, family, composition and accept/unknown of one spectrum."""
        return self.classify_array(spectrum.wavelength_nm, spectrum.intensity[None, :],
                                   instrument=spectrum.metadata.instrument, model=model,
                                   min_accept_probability=min_accept_probability)[0]

    def classify_many(self, spectra: Sequence[Spectrum], *, model: Model | None = None,
                      min_accept_probability: float | None = None) -> list[Classification]:
        """Classify spectra on any grids, in order; those sharing a grid and instrument go in one batch."""
        groups: dict[tuple[bytes, str], list[int]] = {}
        for i, s in enumerate(spectra):
            groups.setdefault((s.wavelength_nm.tobytes(), s.metadata.instrument), []).append(i)
        results: list[Classification | None] = [None] * len(spectra)
        for (_, instrument), members in groups.items():
            wl = spectra[members[0]].wavelength_nm
            batch = np.stack([spectra[i].intensity for i in members])
            for i, r in zip(members, self.classify_array(wl, batch, instrument=instrument, model=model,
                                                         min_accept_probability=min_accept_probability),
                            strict=True):
                results[i] = r
        return results  # type: ignore[return-value]

    def classify_array(self, wavelength_nm: np.ndarray, intensity: np.ndarray, instrument: str = "", *,
                       model: Model | None = None, min_accept_probability: float | None = None) -> list[Classification]:
        """Classify spectra ``intensity`` (n, p) [counts] sharing one grid ``wavelength_nm`` (p,) [nm].

        ``instrument`` names the spectrometer ("": not said); ``model`` forces a model (name or
        ``.onnx`` path) instead of the one picked for the instrument and grid;
        ``min_accept_probability`` overrides the sorter's (and the card's) accept bar for this call.
        """
        bar = self.min_accept_probability if min_accept_probability is None else min_accept_probability
        wl = np.asarray(wavelength_nm, dtype=np.float64)
        x = np.atleast_2d(np.asarray(intensity, dtype=np.float64))
        if wl.ndim != 1 or wl.size < 2 or x.ndim != 2 or x.shape[1] != wl.size:
            raise SpectrumError(f"intensity: expected shape (n, {wl.size}) to match wavelength_nm, got {x.shape}")
        name = model if model is not None else self.model_for(wl, instrument)
        return self.runtime(name).classify_array(wl, x, instrument=instrument, min_accept_probability=bar)

