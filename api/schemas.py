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


class PieceIn(BaseModel):
    """A piece under the spectrometer of a line."""

    model_config = ConfigDict(extra="forbid")

    piece_id: str = Field(min_length=1, max_length=200, description="the line's id of the piece")
    line_id: str = Field(min_length=1, max_length=100, pattern=LINE_ID)
    captured_at: AwareDatetime | None = Field(None, description="when the spectrum was taken (with a time zone)")
    encoder_count: Count | None = Field(None, ge=0, le=2**62)
    belt_speed_m_s: Number | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    mass_kg: Number | None = Field(None, ge=0, le=10_000, allow_inf_nan=False)
    spectrum: SpectrumIn


class LinePieceIn(BaseModel):
    """A piece sent over a line's WebSocket: the line is the socket's."""

    model_config = ConfigDict(extra="forbid")

    piece_id: str = Field(min_length=1, max_length=200)
    captured_at: AwareDatetime | None = None
    encoder_count: Count | None = Field(None, ge=0, le=2**62)
    belt_speed_m_s: Number | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    mass_kg: Number | None = Field(None, ge=0, le=10_000, allow_inf_nan=False)
    spectrum: SpectrumIn


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
