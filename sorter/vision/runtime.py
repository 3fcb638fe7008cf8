"""The visual-class model at serving time: onnxruntime on one thread, features in, probabilities out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from blending.errors import InputError
from sorter.serving.registry import models_dir
from sorter.serving.runtime import session_options
from sorter.vision.card import VisionCard, read_model, verify
from sorter.vision.features import FEATURE_NAMES

MODEL_SUBDIR = "vision"
MODEL_NAME = "camera"


def bundled_model_path() -> Path:
    """``models/vision/camera.onnx`` (or the same under ``$ALULOOP_MODELS``)."""
    return models_dir() / MODEL_SUBDIR / f"{MODEL_NAME}.onnx"


class VisionRuntime:
    """A verified visual-class model.

    Examples
    --------
    >>> rt = VisionRuntime.load()                      # doctest: +SKIP
    >>> rt.probabilities(features).shape               # doctest: +SKIP
    (20, 7)
    """

    def __init__(self, model_bytes: bytes, card: VisionCard, *, name: str = "camera.onnx", threads: int = 1):
        verify(model_bytes, card, name)
        if list(card.feature_names) != list(FEATURE_NAMES):
            raise InputError(f"{name}: the card's features differ from this aluloop's; retrain the vision model",
                             field="feature_names")
        self.card = card
        self.classes = list(card.classes)
        self.session = ort.InferenceSession(model_bytes, session_options(threads), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        names = [o.name for o in self.session.get_outputs()]
        self.output = "probabilities" if "probabilities" in names else names[-1]

    @classmethod
    def load(cls, model_path: str | Path | None = None, *, threads: int = 1) -> VisionRuntime:
        path = Path(model_path) if model_path else bundled_model_path()
        data, card = read_model(path, "vision model")
        return cls(data, card, name=path.name, threads=threads)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(n, classes) probabilities for (n, features) vectors."""
        x = np.ascontiguousarray(np.atleast_2d(features), dtype=np.float32)
        if x.shape[0] == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return self.session.run([self.output], {self.input_name: x})[0]
