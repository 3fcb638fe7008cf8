"""Where touching pieces meet: a small convolutional network, and the cut of a part along what it sees.

A blob of foreground is split by a watershed from markers, one per piece. Shape alone (concavities at a
contact, distance-transform cores) gives one marker to two pieces that touch along a straight contact or
overlap broadly: they stay one detection. With the *true* cores as markers, the same foreground and watershed
find 0.991 of the held-out pieces at precision 0.985 against 0.92 with shape markers (``python -m
research.vision_colour_split --experiment true-cores``): the markers were what was missing.

This network sees the contacts. Its input is the frame divided by the belt model minus one (belt is 0
whatever the light) and the foreground mask at the segmenter's working resolution (half the frame's), read as
2 x 2 block means when the card's ``input_scale`` is 2 (the bundled network: a quarter of the frame's
resolution); it answers a logit at half the resolution it reads: positive where a piece's pixel lies within
2 frame pixels of another piece. Three strided 3x3 convolutions, two dilated ones and two upsampling steps
with skip connections (about 38 M multiply-adds on a 320x184 input, 1.4 ms on one core); trained with PyTorch
on simulated frames in
``research/vision_core_train.py`` and exported to ONNX, so serving needs onnxruntime only. Each part of the
segmenter's split is then cut where the network sees a contact (:func:`cut_at_contacts`), and the fragment
merge judges the pieces as before.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from blending.errors import InputError
from sorter.serving.registry import models_dir
from sorter.serving.runtime import session_options
from sorter.vision import markers
from sorter.vision.card import VisionCard, read_model, verify

MODEL_NAME = "contacts"
INPUT_NAMES = ["ratio_b", "ratio_g", "ratio_r", "foreground"]
_K3 = np.ones((3, 3), np.uint8)


def bundled_model_path() -> Path:
    """``models/vision/contacts.onnx`` (or the same under ``$ALULOOP_MODELS``)."""
    return models_dir() / "vision" / f"{MODEL_NAME}.onnx"


def network_input(small: np.ndarray, background: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """(1, 4, h, w) float32: the frame over the belt model minus one (B, G, R, clipped to [-1, 3]) and the
    foreground (0 or 1), at working resolution (``small`` BGR uint8, ``background`` float32 BGR, ``foreground``
    uint8 0/255)."""
    ratio = cv2.divide(small.astype(np.float32), cv2.max(background, 1.0))
    x = np.empty((1, 4) + small.shape[:2], np.float32)
    for c in range(3):
        np.clip(ratio[..., c] - 1.0, -1.0, 3.0, out=x[0, c])
    np.multiply(foreground, np.float32(1 / 255), out=x[0, 3], casting="unsafe")
    return x


class ContactModel:
    """A verified contact network (ONNX, card beside it tied by sha256)."""

    def __init__(self, model_bytes: bytes, card: VisionCard, *, name: str = "contacts.onnx", threads: int = 1):
        verify(model_bytes, card, name)
        if list(card.feature_names) != INPUT_NAMES:
            raise InputError(f"{name}: the card's inputs {card.feature_names} differ from this aluloop's "
                             f"{INPUT_NAMES}; retrain the contact network", field="feature_names")
        self.card = card
        # the network may read a coarser copy of the working-resolution input (the card says how much)
        self.input_scale = int(card.training_data.get("input_scale", 1))
        self.session = ort.InferenceSession(model_bytes, session_options(threads), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    @classmethod
    def load(cls, model_path: str | Path | None = None, *, threads: int = 1) -> ContactModel:
        path = Path(model_path) if model_path else bundled_model_path()
        data, card = read_model(path, "contact network")
        return cls(data, card, name=path.name, threads=threads)

    def contacts(self, small: np.ndarray, background: np.ndarray, foreground: np.ndarray) -> np.ndarray:
        """(h, w) uint8 0/1 contact mask at working resolution, inside the foreground."""
        h, w = small.shape[:2]
        x = network_input(small, background, foreground)
        k = self.input_scale
        if k > 1:   # the mean of k x k blocks, as in training
            hq, wq = h // k, w // k
            x = np.stack([cv2.resize(x[0, c, :hq * k, :wq * k], (wq, hq), interpolation=cv2.INTER_AREA)
                          for c in range(4)])[None]
        hq, wq = x.shape[2:]
        ph, pw = -hq % 8, -wq % 8   # the network halves the size three times
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)))
        logit = self.session.run(None, {self.input_name: x})[0][0, 0]
        up = cv2.resize((logit > 0).astype(np.uint8), ((wq + pw) * k, (hq + ph) * k), interpolation=cv2.INTER_NEAREST)
        c = np.zeros((h, w), np.uint8)
        c[:min(h, up.shape[0]), :min(w, up.shape[1])] = up[:h, :w]
        return cv2.bitwise_and(c, foreground // 255)


def cut_at_contacts(part: np.ndarray, window: np.ndarray, contacts: np.ndarray, min_core_px: float,
                    min_area_px: float) -> list[np.ndarray]:
    """``part`` (uint8 0/1) cut where ``contacts`` (uint8 0/1, same shape) part it, or ``[part]``.

    The part less the contact pixels (grown by one) falls into regions; those of at least ``min_core_px`` are
    the markers of a watershed on ``window`` (the BGR image under the part), which gives each pixel of the
    part to one of them. Pieces below ``min_area_px`` are dropped; if fewer than two regions are large enough,
    the part stays whole [px at working resolution].
    """
    grown = cv2.dilate(contacts, _K3)
    if not cv2.countNonZero(cv2.bitwise_and(part, grown)):   # no contact inside this part
        return [part]
    seeds, n = markers.regions(cv2.bitwise_and(part, 1 - grown), min_core_px)
    if n < 2:
        return [part]
    return markers.grow(seeds, n, part, window, min_area_px) or [part]
