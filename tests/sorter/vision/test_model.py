"""The visual-class model: ONNX against scikit-learn, the card's sha256, the bundled model."""

from __future__ import annotations

import numpy as np
import pytest

from sorter.serving.card import ModelIntegrityError, sha256_bytes
from sorter.vision.card import VisionCard
from sorter.vision.features import FEATURE_NAMES, N_FEATURES
from sorter.vision.runtime import VisionRuntime, bundled_model_path
from sorter.vision.synthesis import VISUAL_CLASSES


@pytest.fixture(scope="module")
def small_model():
    from sorter.vision.training import fit_model

    rng = np.random.default_rng(0)
    y = np.arange(280) % len(VISUAL_CLASSES)
    X = rng.normal(0, 1, (280, N_FEATURES)).astype(np.float32) + y[:, None] * 0.3
    return fit_model(X, y), X


def card_for(data: bytes, model) -> VisionCard:
    from sorter.vision.training import class_names

    return VisionCard("t", class_names(model), list(FEATURE_NAMES), 1.5, model_sha256=sha256_bytes(data))


def test_onnx_agrees_with_scikit_learn(small_model):
    from sorter.vision.training import to_onnx_bytes

    model, X = small_model
    data = to_onnx_bytes(model)
    rt = VisionRuntime(data, card_for(data, model))
    np.testing.assert_allclose(rt.probabilities(X), model.predict_proba(X), atol=1e-4)
    assert rt.probabilities(np.zeros((0, N_FEATURES))).shape == (0, len(VISUAL_CLASSES))


def test_a_changed_model_is_refused(small_model):
    from sorter.vision.training import to_onnx_bytes

    model, _ = small_model
    data = to_onnx_bytes(model)
    card = card_for(data, model)
    with pytest.raises(ModelIntegrityError, match="does not match"):
        VisionRuntime(data + b"\0", card)


def test_bundled_model_loads_and_names_every_class():
    rt = VisionRuntime.load()
    assert set(rt.classes) == set(VISUAL_CLASSES)
    assert rt.card.metrics["held_out_accuracy"] > 0.9
    assert bundled_model_path().name == "camera.onnx"
    p = rt.probabilities(np.zeros((3, N_FEATURES), np.float32))
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
