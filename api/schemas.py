"""Request and response bodies of the API (pydantic), kept apart from the database tables."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sorter.spectrum import MAX_POINTS

LINE_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# numbers are numbers: JSON true is not 1.0 (pydantic's lax mode would take it)
Number = Annotated[float, Field(strict=True)]
Count = Annotated[int, Field(strict=True)]


def first_bad(values: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(values))
    return int(bad[0]) if bad.size else None


class SpectrumIn(BaseModel):
    """One LIBS spectrum: intensities [counts] on a strictly increasing grid [nm]."""

    model_config = ConfigDict(extra="forbid")

    wavelength_nm: list[Number] = Field(min_length=2, max_length=MAX_POINTS, description="air wavelength of each "
                                       "pixel [nm], strictly increasing")
    intensity: list[Number] = Field(min_length=2, max_length=MAX_POINTS, description="counts per pixel")
    instrument: str = Field("", max_length=100, description="spectrometer name ('': not said)")
    _wavelength: np.ndarray = PrivateAttr()
    _intensity: np.ndarray = PrivateAttr()

    @field_validator("wavelength_nm")
    @classmethod
    def _increasing(cls, values: list[float]) -> list[float]:
        wl = np.asarray(values, dtype=np.float64)
        bad = first_bad(wl)
        if bad is not None:
            raise ValueError(f"point {bad} is {values[bad]}; every wavelength must be finite")
        if wl[0] <= 0:
            raise ValueError(f"point 0 is {values[0]} nm; wavelengths must be positive")
        steps = np.diff(wl)
        if np.any(steps <= 0):
            i = int(np.flatnonzero(steps <= 0)[0])
            raise ValueError(f"not strictly increasing at point {i + 1} ({values[i]:g} then {values[i + 1]:g} nm)")
        return values

    @field_validator("intensity")
    @classmethod
    def _finite(cls, values: list[float], info: ValidationInfo) -> list[float]:
        wavelength = info.data.get("wavelength_nm")
        if wavelength is not None and len(values) != len(wavelength):
            raise ValueError(f"{len(values)} values for {len(wavelength)} wavelengths; lengths must match")
        bad = first_bad(np.asarray(values, dtype=np.float64))
        if bad is not None:
            raise ValueError(f"point {bad} is {values[bad]}; every intensity must be finite")
        return values

    @model_validator(mode="after")
    def _arrays(self) -> SpectrumIn:
        self._wavelength = np.asarray(self.wavelength_nm, dtype=np.float64)
        self._intensity = np.asarray(self.intensity, dtype=np.float64)
        return self

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self._wavelength, self._intensity


class LinePieceIn(BaseModel):
    """A piece sent over a line's WebSocket: the line is the socket's."""

    model_config = ConfigDict(extra="forbid")

    piece_id: str = Field(min_length=1, max_length=200, description="the line's id of the piece")
    captured_at: AwareDatetime | None = Field(None, description="when the spectrum was taken (with a time zone)")
    encoder_count: Count | None = Field(None, ge=0, le=2**62)
    belt_speed_m_s: Number | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    mass_kg: Number | None = Field(None, ge=0, le=10_000, allow_inf_nan=False)
    spectrum: SpectrumIn


class PieceIn(LinePieceIn):
    """A piece under the spectrometer of a line: a line piece that names its line."""

    line_id: str = Field(min_length=1, max_length=100, pattern=LINE_ID)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pieces: list[PieceIn] = Field(min_length=1, description="at most max_batch_pieces (setting) pieces")


class ModelRef(BaseModel):
    name: str
    sha256: str


class PieceResult(BaseModel):
    """What the service decided for one piece, as stored: a re-sent piece gets this same body back."""

    piece_id: str
    line_id: str
    state: str = Field(description="ok, late (after the line's deadline) or invalid (spectrum not classifiable)")
    grade: str | None
    family: str | None
    probabilities: dict[str, float] = Field(description="top three grades")
    composition_wt_pct: dict[str, float | None]
    composition_interval_wt_pct: dict[str, list[float] | None]
    composition_note: str
    decision: str = Field(description="accept or unknown")
    reason: str
    bin: str
    model: ModelRef | None
    captured_at: str | None
    received_at: str
    fire_count: int | None = Field(None, description="encoder count at which the bin's valve opens [counts]; null "
                                   "when the line has no ejection set-up or the piece no encoder count or belt speed")
    record_id: str = Field(description="cursor of this record in GET /v1/pieces")
    replayed: bool = Field(description="true when the piece was already recorded and this is the stored result")


class BatchResult(BaseModel):
    items: list[PieceResult]


class PiecePage(BaseModel):
    items: list[PieceResult]
    next: str | None = Field(description="cursor of the next page, null at the end")


class ProblemError(BaseModel):
    field: str
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemError] | None = None


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(pattern="^(controller|engineer|quality|admin)$")
    name: str = Field("", max_length=200)
    lines: list[str] | None = Field(None, description="lines a controller key may use; null: every line")


class KeyOut(BaseModel):
    id: int
    name: str
    role: str
    prefix: str
    lines: list[str] | None
    created_at: str
    revoked_at: str | None


class KeyCreated(KeyOut):
    key: str = Field(description="the key itself: shown this once, stored only as its sha256")


class ModelOut(BaseModel):
    name: str
    sha256: str
    instrument: str
    grid_points: int
    grid_first_nm: float
    grid_last_nm: float


# ---- the fast path of JSON pieces -------------------------------------------------------------
# FastAPI parses a body with the standard json module and then validates every one of its 8,192
# floats in pydantic: about 0.9 ms for a 4096-point spectrum, more than the classification. The
# routes instead parse with orjson and check the two arrays with numpy, and take that path only when
# the body is certainly valid; anything else (a bool, a null, a string among the numbers, NaN, a
# wrong length, a non-increasing grid, a malformed field) goes through the pydantic models above,
# which give the one and only error messages. So both paths accept exactly the same bodies.

_SPECTRUM_KEYS = set(SpectrumIn.model_fields)
_INSTRUMENT_MAX = next(m.max_length for m in SpectrumIn.model_fields["instrument"].metadata if hasattr(m, "max_length"))


def _fast_array(values: object) -> np.ndarray | None:
    """``values`` as float64 when it is a list of 2..MAX_POINTS finite JSON numbers; else None."""
    if type(values) is not list or not 2 <= len(values) <= MAX_POINTS:
        return None
    try:
        array = np.array(values)   # numbers only give int64 or float64; anything else another dtype
    except (ValueError, TypeError, OverflowError):   # ragged nesting and the like
        return None
    if array.ndim != 1 or array.dtype.kind not in "fi":
        return None
    array = array.astype(np.float64, copy=False)
    return array if np.isfinite(array).all() else None


def _fast_grid(values: object, previous: tuple[list, np.ndarray] | None) -> np.ndarray | None:
    """A wavelength grid as :func:`_fast_array`, positive and strictly increasing; else None.

    ``previous`` is the last grid read (its list and array): pieces of a batch mostly share one grid,
    and comparing two lists costs a tenth of reading one again.
    """
    if previous is not None and type(values) is list and values == previous[0]:
        return previous[1]
    wl = _fast_array(values)
    if wl is None or wl[0] <= 0 or np.any(np.diff(wl) <= 0):
        return None
    return wl


def fast_piece(data: object, model: type[PieceIn] | type[LinePieceIn],
               grids: list[tuple[list, np.ndarray]] | None = None) -> PieceIn | LinePieceIn | None:
    """``data`` (parsed JSON without true/false anywhere) validated as ``model``, or None: not surely valid.

    The fields other than the arrays are validated by ``model`` itself, with a two-point stand-in
    spectrum; the arrays by numpy, with the checks of :class:`SpectrumIn`. ``grids`` (a list the
    caller keeps across the pieces of one body) remembers the last grid read.
    """
    if type(data) is not dict:
        return None
    spectrum = data.get("spectrum")
    if type(spectrum) is not dict:
        return None
    wl = _fast_grid(spectrum.get("wavelength_nm"), grids[-1] if grids else None)
    intensity = _fast_array(spectrum.get("intensity"))
    if wl is None or intensity is None or wl.size != intensity.size:
        return None
    if grids is not None and (not grids or grids[-1][1] is not wl):
        grids[:] = [(spectrum["wavelength_nm"], wl)]
    instrument = spectrum.get("instrument", "")
    if not spectrum.keys() <= _SPECTRUM_KEYS or type(instrument) is not str or len(instrument) > _INSTRUMENT_MAX:
        return None
    # the other fields by the model itself, with a checked two-point stand-in for the spectrum (its
    # after-validator runs again on an instance: with the stand-in that costs nothing)
    stand_in = SpectrumIn.model_construct(wavelength_nm=[1.0, 2.0], intensity=[0.0, 0.0], instrument=instrument)
    try:
        piece = model.model_validate({**data, "spectrum": stand_in})
    except ValueError:   # pydantic's ValidationError: the slow path says what is wrong
        return None
    piece.spectrum.wavelength_nm, piece.spectrum.intensity = spectrum["wavelength_nm"], spectrum["intensity"]
    piece.spectrum._wavelength, piece.spectrum._intensity = wl, intensity
    return piece


def fast_batch(data: object) -> BatchIn | None:
    """``data`` validated as :class:`BatchIn` by :func:`fast_piece`, or None: not surely valid."""
    if type(data) is not dict or data.keys() != {"pieces"} or type(data["pieces"]) is not list or not data["pieces"]:
        return None
    pieces, grids = [], []
    for item in data["pieces"]:
        piece = fast_piece(item, PieceIn, grids)
        if piece is None:
            return None
        pieces.append(piece)
    return BatchIn.model_construct(pieces=pieces)


def may_take_fast_path(body: bytes) -> bool:
    """JSON true/false would be read by numpy as 1/0; bodies with them anywhere take the pydantic path."""
    return b"true" not in body and b"false" not in body


def inline_schema(model: type[BaseModel]) -> dict:
    """The JSON schema of ``model`` with its ``$defs`` written in place (for an OpenAPI request body)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve({**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}})
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)
