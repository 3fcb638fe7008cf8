"""Train the visual-class model on synthetic frames and export it to ONNX with its card.

The training pieces go through the same path as on the line (render, segment, extract features):
each detection that matches a true piece at IoU >= 0.5 is an example labelled with the piece's
visual class, so the model learns from the masks the segmenter really produces. Evaluation uses
:meth:`SceneSettings.held_out` (other light, blur, noise, JPEG, density) and other seeds.

scikit-learn and skl2onnx are imported here only; serving reads the ONNX file.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sorter.vision.card import VisionCard
from sorter.vision.evaluation import score_frame
from sorter.vision.features import FEATURE_NAMES, frame_features
from sorter.vision.segmentation import Segmenter
from sorter.vision.synthesis import VISUAL_CLASSES, Belt, SceneSettings, empty_frames

FRAMES_PER_BELT = 6


def labelled_pieces(settings: SceneSettings, seed: int, n_frames: int,
                    progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, F), visual-class index (n,)) of the detections that match a true piece."""
    X, y = [], []
    done = 0
    belt_seed = seed
    while done < n_frames:
        k = min(FRAMES_PER_BELT, n_frames - done)
        seg = Segmenter().fit(empty_frames(settings, belt_seed, 3))
        for frame in Belt(settings, belt_seed, k).frames():
            dets = seg.segment(frame.image)
            matches = score_frame(frame.labels, dets).matches
            if matches:
                X += list(frame_features(frame.image, seg.background_, [dets[di] for _, di, _ in matches],
                                         settings.px_per_mm))
                y += [VISUAL_CLASSES.index(frame.truth[ti]["visual_class"]) for ti, _, _ in matches]
            done += 1
            if progress:
                progress(1)
        belt_seed += 1
    return np.array(X, np.float32).reshape(-1, len(FEATURE_NAMES)), np.array(y, np.int64)


def fit_model(X: np.ndarray, y: np.ndarray, seed: int = 0):
    """Scaled features into a small MLP ensemble-free classifier: quick, smooth probabilities, small ONNX."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), MLPClassifier((64, 32), alpha=1e-3, max_iter=600, random_state=seed,
                                                          early_stopping=False))
    # every class must be known to the model even if a small training set lacks one
    model.fit(X, y)
    return model


def to_onnx_bytes(model) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = to_onnx(model, initial_types=[("features", FloatTensorType([None, len(FEATURE_NAMES)]))],
                  options={id(model): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
    return onx.SerializeToString()


def class_names(model) -> list[str]:
    return [VISUAL_CLASSES[int(c)] for c in model.classes_]


def write_model(model, out: str | Path, *, settings: SceneSettings, metrics: dict, seed: int, n_frames: int,
                reproduce: str) -> VisionCard:
    """Write ``out`` (ONNX) and its card beside it."""
    import onnx
    import skl2onnx
    import sklearn

    from sorter.serving.card import sha256_bytes

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = to_onnx_bytes(model)
    out.write_bytes(data)
    card = VisionCard(name=out.stem, classes=class_names(model), feature_names=list(FEATURE_NAMES),
                      px_per_mm=settings.px_per_mm, model_sha256=sha256_bytes(data),
                      training_data={"source": "sorter.vision.synthesis", "settings": asdict(settings),
                                     "seed": seed, "frames": n_frames},
                      metrics=metrics,
                      libraries={"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                                 "skl2onnx": skl2onnx.__version__, "onnx": onnx.__version__},
                      reproduce=reproduce, created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    card.write(out.with_name(out.stem + ".card.json"))
    return card
