"""The visual-class model's card: a JSON file beside ``models/vision/camera.onnx``, tied by sha256.

Like the LIBS card (:mod:`sorter.serving.card`) it says what the model reads (the feature names of
:mod:`sorter.vision.features`, in order), what it answers (the visual classes), how it was trained
(generator settings, seed, library versions) and how well it did on a held-out set drawn with other
generator settings. The runtime refuses a model whose sha256 does not match.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from blending.errors import InputError
from sorter.serving.card import ModelIntegrityError, read_card_json, sha256_bytes

VISION_CARD_SCHEMA_VERSION = 1


@dataclass
class VisionCard:
    name: str
    classes: list[str]
    feature_names: list[str]
    px_per_mm: float
    model_sha256: str = ""
    training_data: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    reproduce: str = ""
    created_utc: str = ""
    schema_version: int = VISION_CARD_SCHEMA_VERSION

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> VisionCard:
        path = Path(path)
        data = read_card_json(path, "vision model card")
        if not isinstance(data, dict) or data.get("schema_version") != VISION_CARD_SCHEMA_VERSION:
            raise InputError(f"{path}: not a vision model card of schema_version {VISION_CARD_SCHEMA_VERSION}",
                             field="schema_version")
        try:
            return cls(**data)
        except TypeError as exc:
            raise InputError(f"{path}: not a vision model card ({exc})") from None


def read_model(path: Path, what: str) -> tuple[bytes, VisionCard]:
    """The ONNX bytes at ``path`` and the card beside it (``NAME.card.json``); ``what`` names it in the error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(2, f"{what} not found", str(path)) from None
    return data, VisionCard.read(path.with_name(path.name[:-5] + ".card.json"))


def verify(model_bytes: bytes, card: VisionCard, model_name: str) -> None:
    """Raise :class:`ModelIntegrityError` unless ``model_bytes`` hash to the card's sha256."""
    actual = sha256_bytes(model_bytes)
    if actual != card.model_sha256:
        raise ModelIntegrityError(f"{model_name}: sha256 {actual[:16]}... does not match the vision card's "
                                  f"{card.model_sha256[:16] or '(none)'}...; refusing an unverified model")
