"""Ejection timing by encoder count: when a line's valve opens for a piece, and whether the decision came too late.

An ejector fires on an encoder count, not on a wall-clock time. A piece is captured (LIBS spot or
camera line) at ``capture_count``; the nozzle sits ``nozzle_offset_counts`` downstream; the valve
needs ``valve_lead_time_s`` to open, during which the belt runs on. So the valve must be told to
open at

    fire_count = capture_count + nozzle_offset_counts - valve_lead_time_s * belt_speed_m_s * encoder_counts_per_m

(rounded to the nearest count). Example: belt 3 m/s, 1,000 counts/m, nozzle 1.2 m downstream (1,200
counts), lead 4 ms: 1,200 - 0.004 x 3 x 1,000 = 1,188 counts after capture.

The decision is too late when the belt has already carried the piece past its fire count when the
decision is ready: ``elapsed_s * belt_speed_m_s * encoder_counts_per_m > fire_count - capture_count``.
Such a piece is ``late`` and goes to the line's late (recirculation) bin.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Ejection(BaseModel):
    """The encoder geometry of one line's ejectors (part of the line's sort rules, set by an admin)."""

    model_config = ConfigDict(extra="forbid")

    encoder_counts_per_m: float = Field(gt=0, le=1e9, strict=True, allow_inf_nan=False,
                                        description="encoder counts per metre of belt [1/m]")
    nozzle_offset_counts: int = Field(ge=0, le=2**40, strict=True,
                                      description="nozzle distance downstream of the LIBS spot or camera line [counts]")
    valve_lead_time_s: float = Field(0.0, ge=0, le=10, strict=True, allow_inf_nan=False,
                                     description="time from the open command to the valve being open [s]")


def lead_counts(valve_lead_time_s: float, belt_speed_m_s: float, encoder_counts_per_m: float) -> float:
    """Belt travel during the valve's lead time [counts]."""
    return valve_lead_time_s * belt_speed_m_s * encoder_counts_per_m


def fire_count(capture_count: int, belt_speed_m_s: float, ejection: Ejection) -> int:
    """Encoder count at which to open the valve for a piece captured at ``capture_count`` [counts].

    Parameters
    ----------
    capture_count : int [counts]
        encoder count when the piece was captured.
    belt_speed_m_s : float [m/s]
        current belt speed.
    ejection : Ejection
        the line's encoder geometry and valve lead time.
    """
    lead = lead_counts(ejection.valve_lead_time_s, belt_speed_m_s, ejection.encoder_counts_per_m)
    return capture_count + ejection.nozzle_offset_counts - round(lead)


def travelled_counts(elapsed_s: float, belt_speed_m_s: float, encoder_counts_per_m: float) -> float:
    """Belt travel in ``elapsed_s`` at ``belt_speed_m_s`` [counts]."""
    return elapsed_s * belt_speed_m_s * encoder_counts_per_m


def is_late(capture_count: int, fire_at_count: int, elapsed_s: float, belt_speed_m_s: float,
            encoder_counts_per_m: float) -> bool:
    """True when the belt has carried the piece past its fire count within ``elapsed_s`` [s] of its capture."""
    return travelled_counts(elapsed_s, belt_speed_m_s, encoder_counts_per_m) > fire_at_count - capture_count


def timing(state: str, *, capture_count: int | None, belt_speed_m_s: float | None, captured_at: datetime | None,
           decided_at: datetime, ejection: Ejection | None) -> tuple[str, int | None]:
    """The piece's state after the encoder check, and its fire count (None when the line or piece lacks the data).

    An ``ok`` piece becomes ``late`` when its decision (at ``decided_at``) comes after its fire count
    has passed; ``invalid`` and already ``late`` pieces keep their state. The fire count needs the
    line's :class:`Ejection`, the piece's capture count and the belt speed; the late check also
    needs ``captured_at``.
    """
    if ejection is None or capture_count is None or belt_speed_m_s is None:
        return state, None
    fire = fire_count(capture_count, belt_speed_m_s, ejection)
    if state == "ok" and captured_at is not None:
        elapsed_s = (decided_at - captured_at).total_seconds()
        if is_late(capture_count, fire, elapsed_s, belt_speed_m_s, ejection.encoder_counts_per_m):
            state = "late"
    return state, fire
