"""The model card: a JSON file beside each ONNX model, and the sha256 check that ties them.

The card says what the model is (classes, families, elements, the wavelength grid it
expects, the instrument), how it was trained (data hash, seed, library versions), how
well it did (metrics) and how it decides (reject thresholds). The serving runtime refuses
a model whose sha256 does not match its card.

``schema_version`` says which fields a card has. This aluloop writes version
:data:`CARD_SCHEMA_VERSION` and reads versions :data:`OLDEST_CARD_SCHEMA_VERSION` to it (2: every
line window carries its footprint, ``footprint_lo_nm`` and ``footprint_hi_nm``; 3 adds the optional
``composition_error``, the composition error per grade and element split into a random and a shared
part, which sorted lots need, :meth:`ModelCard.lot_error`; 4 adds the optional ``family_head``, the
accept bars of a family classifier in the graph that carries to other plasmas and spectrometers); it
refuses a card of another version with an :class:`InputError` rather than guess at fields it does
not know, so a card written by a newer aluloop asks for an upgrade and an older one for retraining.
The sha256 is of the ONNX bytes alone, so a card can be edited (a threshold, a note) without
touching the model it describes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from blending.errors import AluloopError, InputError

CARD_SCHEMA_VERSION = 4
OLDEST_CARD_SCHEMA_VERSION = 2   # versions 3 and 4 only added the optional composition_error and family_head
CARD_SUFFIX = ".card.json"
SATURATED_PIXELS = 3  # the quality output carries the 3rd-highest Al-reference pixel


class ModelIntegrityError(AluloopError):
    """The model file is not the one its card describes."""


def card_path_for(model_path: str | Path) -> Path:
    """``models/broadband.onnx`` -> ``models/broadband.card.json``."""
    p = Path(model_path)
    return p.with_name(p.name[:-5] + CARD_SUFFIX) if p.name.endswith(".onnx") else p.with_suffix(CARD_SUFFIX)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Thresholds:
    """When the sorter says "unknown" (recirculate) instead of a grade; tuned on validation data.

    min_top_probability : float
        Below this top-grade probability the piece is ambiguous [-]; the bar for grade pairs that
        ``pair_min_top_probability`` does not list.
    pair_min_top_probability : dict of str to float
        The bar for a piece whose two best grades are the pair ``"A|B"`` (names sorted) [-],
        calibrated on held-out pieces so that accepted pieces of the pair are right at least
        99.5% of the time (``sorter/training/accept.py``; the card's ``metrics["accept_calibration"]``
        gives the counts and intervals). Empty: ``min_top_probability`` for every pair.
    max_ood_distance : float
        Above this class-conditional Mahalanobis distance (per feature, RMS) the spectrum is out
        of the training distribution [-].
    min_snr_empty : float
        Below this signal-to-noise of the strongest line the shot hit nothing [-].
    min_snr : float
        Below this (but above the empty-shot level) the spectrum is too noisy to trust [-].
    min_al_fraction : float
        Below this Al-reference share of the summed line area, an aluminium grade cannot be
        accepted: weak Al signal [-].
    saturation_counts : float or None
        A pixel at or above this is saturated (the detector's ADC maximum) [counts]; None
        when the training data did not say. A shot is rejected when at least
        ``SATURATED_PIXELS`` pixels of the Al reference windows reach it (a clipped flat top).
    max_non_al_probability : float
        An aluminium grade is not accepted while the contaminants together hold more than
        this probability [-]: a contaminant must never go to an aluminium bin.
    contaminant_distance_ratio : float
        Nor while the nearest contaminant class mean is less than this many times farther
        (Mahalanobis) than the chosen grade's mean [-]: a contaminant read as an aluminium grade at a
        plasma edge lies about as near its own class, at the cost of a few in-distribution pieces
        sent round again.
    """

    min_top_probability: float = 0.5
    pair_min_top_probability: dict[str, float] = field(default_factory=dict)
    max_ood_distance: float = 10.0
    min_snr_empty: float = 8.0
    min_snr: float = 20.0
    min_al_fraction: float = 0.0
    saturation_counts: float | None = None
    max_non_al_probability: float = 0.05
    contaminant_distance_ratio: float = 1.15


@dataclass
class ModelCard:
    name: str
    classes: list[str]
    families: dict[str, str]
    elements: list[str]
    instrument: str
    wavelength_grid_nm: list[float]
    thresholds: Thresholds
    onnx_outputs: dict[str, str]
    model_sha256: str = ""
    training_data: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)
    line_windows: list[dict] = field(default_factory=list)
    reproduce: str = ""
    interval_coverage: float = 0.9
    created_utc: str = ""
    schema_version: int = CARD_SCHEMA_VERSION
    # {"grades": {grade: {element: {"bias", "random_sd", "shared_sd", ...}}}, "unknown": {element: {"mean", "sd"}},
    #  "source": ..., "reproduce": ...} [wt%] (sorter/training/composition_error.py); {} when not measured
    composition_error: dict = field(default_factory=dict)
    # {"families", "feature_names", "min_probability", "max_distance", "validation", ...}: the family head
    # that carries the family to other plasmas and spectrometers (sorter/training/family_head.py); {} when none
    family_head: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @property
    def shots_per_piece(self) -> int | None:
        """Shots averaged into each training spectrum, as ``training_data`` records it (None: not said)."""
        value = self.training_data.get("shots_per_piece") if isinstance(self.training_data, dict) else None
        if value is None:   # cards written before the field: the simulated source names it
            found = re.search(r"shots_per_piece=(\d+)", str((self.training_data or {}).get("source", "")))
            value = int(found.group(1)) if found else None
        return int(value) if value else None

    @classmethod
    def from_dict(cls, data: dict, where: str = "model card") -> ModelCard:
        """A card from its JSON object; an :class:`InputError` naming ``where`` unless it is one of this version."""
        version = data.get("schema_version") if isinstance(data, dict) else None
        if not isinstance(version, int) or isinstance(version, bool):
            raise InputError(f"{where}: no schema_version; a card written before version {CARD_SCHEMA_VERSION} "
                             f"lacks the line windows' footprints: retrain the model", field="schema_version")
        if version > CARD_SCHEMA_VERSION:
            raise InputError(f"{where}: schema_version {version} is newer than this aluloop reads "
                             f"({CARD_SCHEMA_VERSION}); upgrade aluloop", field="schema_version")
        if version < OLDEST_CARD_SCHEMA_VERSION:
            raise InputError(f"{where}: schema_version {version} is older than this aluloop reads "
                             f"({OLDEST_CARD_SCHEMA_VERSION}); retrain the model", field="schema_version")
        try:
            data = dict(data)
            data["thresholds"] = Thresholds(**data["thresholds"])
            return cls(**data)
        except (KeyError, TypeError) as exc:
            raise InputError(f"{where}: not a model card ({exc})") from None

    def lot_error(self) -> dict:
        """The composition error figures a sorted lot needs, as the keyword arguments of
        :class:`blending.lot_chemistry.ShareBias` plus the per-piece random sd and the unknown prior:
        ``{"sd_wt_pct": {grade: {el: sd}}, "bias_wt_pct": {grade: {el: bias}}, "unknown_sd_wt_pct":
        {el: sd}, "random_sd_wt_pct": {grade: {el: sd}}, "unknown_wt_pct": {el: mean}}`` [wt%]; every
        table empty for a card without ``composition_error``."""
        grades = (self.composition_error or {}).get("grades", {})
        unknown = (self.composition_error or {}).get("unknown", {})

        def table(key: str) -> dict[str, dict[str, float]]:
            return {g: {e: float(v[key]) for e, v in by_el.items()} for g, by_el in grades.items()}

        return {"sd_wt_pct": table("shared_sd"), "bias_wt_pct": table("bias"),
                "unknown_sd_wt_pct": {e: float(v["sd"]) for e, v in unknown.items()},
                "random_sd_wt_pct": table("random_sd"),
                "unknown_wt_pct": {e: float(v["mean"]) for e, v in unknown.items()}}

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> ModelCard:
        return cls.from_dict(read_card_json(path, "model card"), str(path))


def verify(model_bytes: bytes, card: ModelCard, model_name: str = "model") -> None:
    """Raise :class:`ModelIntegrityError` unless ``model_bytes`` hash to the card's sha256."""
    actual = sha256_bytes(model_bytes)
    if not card.model_sha256:
        raise ModelIntegrityError(f"{model_name}: the model card has no sha256; refusing to load an unverified model")
    if actual != card.model_sha256:
        raise ModelIntegrityError(f"{model_name}: sha256 {actual[:16]}... does not match the model card's "
                                  f"{card.model_sha256[:16]}...; the file was changed or belongs to another card")


def read_card_json(path: str | Path, what: str) -> object:
    """The JSON of the card at ``path``: FileNotFoundError naming ``what``, InputError for bad JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(2, f"{what} not found", str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
