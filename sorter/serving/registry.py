"""Where the bundled models live, which ones there are, and which one reads a given spectrum.

The models directory is, in this order: ``$ALULOOP_MODELS``; the package ``sorter.bundled_models``
when it is installed (a wheel ships the repository's ``models/`` folder as that package); else
``models/`` beside the packages (a checkout or an editable install). Every front end finds the
models through :func:`models_dir`, so the three cases cannot drift apart.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from sorter.serving.card import ModelCard, card_path_for
from sorter.serving.runtime import window_coverage
from sorter.spectrum import Spectrum

MODELS_ENV = "ALULOOP_MODELS"
BUNDLED_PACKAGE = "sorter.bundled_models"


def models_dir() -> Path:
    """The folder of bundled ``NAME.onnx`` + ``NAME.card.json`` (see the module docstring for the order)."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env)
    try:
        spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    except ImportError:  # find_spec imports the parent package; none there means no bundled package
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "models"


def bundled_cards(directory: str | Path | None = None) -> dict[str, tuple[Path, ModelCard]]:
    """Model name -> (ONNX path, card) of every ``*.onnx`` with a card in ``directory`` (default: models_dir)."""
    d = Path(directory) if directory else models_dir()
    out = {}
    for onnx_path in sorted(d.glob("*.onnx")):
        card_path = card_path_for(onnx_path)
        if card_path.exists():
            out[onnx_path.stem] = (onnx_path, ModelCard.read(card_path))
    return out


def training_shots(instrument: str, directory: str | Path | None = None) -> int | None:
    """Shots per spectrum the bundled model of ``instrument`` was trained on (None: no such model, or not said)."""
    for _, card in bundled_cards(directory).values():
        if card.instrument == instrument and card.shots_per_piece:
            return card.shots_per_piece
    return None


def model_for_grid(wavelength_nm: np.ndarray, instrument: str, cards: dict[str, tuple[Path, ModelCard]]) -> str:
    """The model for spectra on ``wavelength_nm`` [nm] from ``instrument`` ("": not said).

    Same instrument name first; else the model whose line windows the grid covers best, ties going
    to the model whose pixel step is closest to the spectrum's (its line shapes resemble them most).
    """
    if not cards:
        raise FileNotFoundError(2, "no bundled models (NAME.onnx with NAME.card.json)", str(models_dir()))
    for name, (_, card) in cards.items():
        if instrument and card.instrument == instrument:
            return name
    wl = np.asarray(wavelength_nm, dtype=np.float64)
    step = float(np.median(np.diff(wl)))

    def score(item):
        _, (_, card) = item
        grid = np.asarray(card.wavelength_grid_nm)
        return (window_coverage(card, wl), -abs(np.log(np.median(np.diff(grid)) / step)))

    return max(cards.items(), key=score)[0]


def choose_model(spectrum: Spectrum, cards: dict[str, tuple[Path, ModelCard]]) -> str:
    """The model of ``cards`` for one spectrum: :func:`model_for_grid` on its grid and instrument."""
    return model_for_grid(spectrum.wavelength_nm, spectrum.metadata.instrument, cards)
