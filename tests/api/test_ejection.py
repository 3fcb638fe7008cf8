"""Encoder-timed ejection: the hand example of issue 27, properties against an independent time-domain check,
and the late state and fire count as the HTTP service answers them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.services.ejection import Ejection, fire_count, is_late, timing
from tests.api.support import bearer, piece_body, sample

HAND = Ejection(encoder_counts_per_m=1000.0, nozzle_offset_counts=1200, valve_lead_time_s=0.004)

counts_per_m = st.floats(1.0, 1e6)
speeds = st.floats(0.0, 20.0)
leads = st.floats(0.0, 0.2)
offsets = st.integers(0, 10**7)
captures = st.integers(0, 2**40)


def test_the_hand_example_of_the_issue():
    # belt 3 m/s, 1,000 counts/m, nozzle 1.2 m = 1,200 counts, lead 4 ms = 0.004 s x 3 m/s = 12 mm = 12 counts
    assert fire_count(50_000, 3.0, HAND) == 50_000 + 1_188


def test_a_decision_just_before_or_after_the_fire_count_passes():
    # 1,188 counts at 3,000 counts/s is 0.396 s of belt travel
    assert not is_late(0, 1_188, 0.395, 3.0, 1000.0)
    assert is_late(0, 1_188, 0.397, 3.0, 1000.0)


@given(captures, speeds, counts_per_m, offsets, leads)
def test_the_fire_count_is_the_nozzle_less_the_belt_travel_during_the_lead(capture, speed, cpm, offset, lead):
    ejection = Ejection(encoder_counts_per_m=cpm, nozzle_offset_counts=offset, valve_lead_time_s=lead)
    fire = fire_count(capture, speed, ejection)
    # metres first, then counts: the same quantity by another route, within the rounding of one count
    lead_m = speed * lead
    assert abs((capture + offset - fire) - lead_m * cpm) <= 0.5 + 1e-9 * lead_m * cpm


@given(captures, st.floats(0.1, 20.0), counts_per_m, offsets, leads, st.floats(0.0, 5.0))
def test_late_means_the_piece_reached_its_fire_count_before_the_decision(capture, speed, cpm, offset, lead, elapsed_s):
    ejection = Ejection(encoder_counts_per_m=cpm, nozzle_offset_counts=offset, valve_lead_time_s=lead)
    fire = fire_count(capture, speed, ejection)
    # the time the belt takes to carry the piece from capture to its fire count [s]
    time_to_fire_s = (fire - capture) / (speed * cpm)
    if abs(elapsed_s - time_to_fire_s) > 1e-9 * max(1.0, abs(time_to_fire_s)):
        assert is_late(capture, fire, elapsed_s, speed, cpm) == (elapsed_s > time_to_fire_s)


@given(st.floats(0.0, 5.0))
def test_timing_marks_only_ok_pieces_late_and_needs_the_data(elapsed_s):
    captured = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
    decided = captured + timedelta(seconds=elapsed_s)
    late = elapsed_s * 3.0 * 1000.0 > 1_188
    assert timing("ok", capture_count=7, belt_speed_m_s=3.0, captured_at=captured, decided_at=decided,
                  ejection=HAND) == ("late" if late else "ok", 7 + 1_188)
    assert timing("invalid", capture_count=7, belt_speed_m_s=3.0, captured_at=captured, decided_at=decided,
                  ejection=HAND) == ("invalid", 7 + 1_188)
    for missing in ({"capture_count": None}, {"belt_speed_m_s": None}, {"ejection": None}):
        args = dict(capture_count=7, belt_speed_m_s=3.0, captured_at=captured, decided_at=decided, ejection=HAND)
        assert timing("ok", **(args | missing)) == ("ok", None)


def test_ejection_settings_are_checked():
    with pytest.raises(ValueError, match="encoder_counts_per_m"):
        Ejection(encoder_counts_per_m=0.0, nozzle_offset_counts=1200)
    with pytest.raises(ValueError, match="nozzle_offset_counts"):
        Ejection(encoder_counts_per_m=1000.0, nozzle_offset_counts=-1)


def test_the_service_answers_the_fire_count_and_sends_a_late_piece_round_again(client, keys):
    rules = {"late_bin": "recirculate", "ejection": HAND.model_dump()}
    assert client.put("/v1/lines/L1/rules", headers=bearer(keys["admin"]), json=rules).status_code == 200
    head = bearer(keys["controller"])
    now = datetime.now(UTC)
    # a slow belt (1 cm/s: 0.04 counts of lead) leaves 120 s to decide, whatever the load on this machine
    on_time = client.post("/v1/pieces/classify", headers=head, json=piece_body(
        sample("5182"), "on-time", encoder_count=10_000, belt_speed_m_s=0.01, captured_at=now.isoformat()))
    # captured 2 s ago at 3 m/s: 6,000 counts travelled, well past the 1,188 to the fire count
    late = client.post("/v1/pieces/classify", headers=head, json=piece_body(
        sample("5182"), "late", encoder_count=20_000, belt_speed_m_s=3.0,
        captured_at=(now - timedelta(seconds=2)).isoformat()))
    no_encoder = client.post("/v1/pieces/classify", headers=head, json=piece_body(sample("5182"), "no-encoder"))
    assert on_time.status_code == late.status_code == no_encoder.status_code == 200
    assert (on_time.json()["state"], on_time.json()["fire_count"]) == ("ok", 10_000 + 1_200)
    assert (late.json()["state"], late.json()["fire_count"], late.json()["bin"]) == ("late", 20_000 + 1_188,
                                                                                     "recirculate")
    assert (no_encoder.json()["state"], no_encoder.json()["fire_count"]) == ("ok", None)
    assert client.get("/v1/lines/L1/rules", headers=head).json()["ejection"] == HAND.model_dump()
