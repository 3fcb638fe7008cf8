"""Request validation at the edges of each range: the last value accepted and the first refused,
each refusal naming its field (blending.request)."""

import math
from pathlib import Path

import pytest

from blending.campaign import Heat
from blending.catalogue.composition import Composition
from blending.catalogue.spec import get_alloy
from blending.errors import InputError
from blending.lot import load_inventory
from blending.request import (
    MAX_PARETO_POINTS,
    MIN_DRAWS,
    CampaignRequest,
    ChargeRequest,
    ParetoRequest,
    TrimRequest,
    check_probability,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def lots():
    return load_inventory(EXAMPLES / "ubc_3104_inventory.csv")


def refused(field, **kwargs):
    """The InputError a ChargeRequest raises, checked to name ``field``."""
    with pytest.raises(InputError) as info:
        ChargeRequest(**kwargs)
    assert info.value.field == field, (info.value.field, str(info.value))
    return info.value


@pytest.mark.parametrize("value", [0.5, 0.95, math.nextafter(1.0, 0.0)])
def test_a_probability_from_one_half_to_just_below_one_is_accepted(value):
    assert check_probability(value, "confidence") is None


@pytest.mark.parametrize("value", [math.nextafter(0.5, 0.0), 0.0, 1.0, 1.5, math.nan, math.inf, -0.9])
def test_a_probability_outside_one_half_to_one_is_refused_by_name(value):
    with pytest.raises(InputError, match="must be at least 0.5 and below 1") as info:
        check_probability(value, "joint_confidence")
    assert info.value.field == "joint_confidence"


def test_none_is_no_probability_given():
    assert check_probability(None, "joint_confidence") is None


def test_a_charge_request_at_every_lower_edge_is_accepted(lots):
    r = ChargeRequest("3104", 20_000.0, lots, confidence=0.5, draws=MIN_DRAWS, min_recycled_fraction=0.0,
                      max_cost=0.0)
    assert r.spec == get_alloy("3104") and r.lots == tuple(lots)
    assert ChargeRequest("3104", 1e-9, lots, min_recycled_fraction=1.0).mass_kg == 1e-9


@pytest.mark.parametrize(("field", "change"), [
    ("confidence", {"confidence": 1.0}),
    ("confidence", {"confidence": 0.49}),
    ("joint_confidence", {"joint_confidence": 1.0}),
    ("objective", {"objective": "profit"}),
    ("joint_allocation", {"joint_allocation": "even"}),
    ("joint_allocation", {"joint_allocation": "calibrated", "confidence": 0.95}),   # needs a joint target
    ("draws", {"draws": MIN_DRAWS - 1}),
    ("draws", {"draws": float(MIN_DRAWS)}),
    ("mass_kg", {"mass_kg": 0.0}),
    ("mass_kg", {"mass_kg": -1.0}),
    ("mass_kg", {"mass_kg": math.nan}),
    ("mass_kg", {"mass_kg": math.inf}),
    ("heel_composition", {"heel_composition": Composition({"Mg": 1.0})}),   # without heel_kg
    ("min_recycled_fraction", {"min_recycled_fraction": -0.01}),
    ("min_recycled_fraction", {"min_recycled_fraction": 1.01}),
    ("min_recycled_fraction", {"min_recycled_fraction": math.nan}),
    ("max_cost", {"max_cost": -0.01}),
    ("max_cost", {"max_cost": math.nan}),
    ("aim_tighten", {"aim_tighten": 0.5}),
    ("aim_tighten", {"aim_tighten": -0.01}),
    ("aim_tighten", {"aim_tighten": 0.1, "aim_limits": {"Mg": (1.0, 1.2)}}),  # both
    ("alloy", {"spec": "9999"}),
])
def test_each_bad_charge_field_is_refused_by_name(lots, field, change):
    refused(field, **{"spec": "3104", "mass_kg": 20_000.0, "lots": lots, **change})


def test_no_lots_is_refused(lots):
    refused("lots", spec="3104", mass_kg=20_000.0, lots=[])


def test_calibrated_with_a_joint_confidence_is_accepted(lots):
    r = ChargeRequest("3104", 20_000.0, lots, joint_confidence=0.95, joint_allocation="calibrated")
    assert r.joint_allocation == "calibrated"


def test_aim_limits_reach_the_target_and_the_spec_is_kept(lots):
    r = ChargeRequest("3104", 20_000.0, lots, aim_tighten=0.1)
    assert r.spec.aim is None
    assert r.target().bounds(aim=True)["Mg"] == pytest.approx((0.85, 1.25))
    assert r.melt().mass_kg == 20_000.0


def test_a_trim_request_needs_a_capacity_unless_every_addition_is_bounded(lots):
    from blending.trim import analysis_from_mapping

    analysis = analysis_from_mapping({"Mg": 1.0})
    unbounded = [lot for lot in lots if lot.available_kg is None]
    assert unbounded, "the example inventory has a lot without available_kg"
    with pytest.raises(InputError, match=unbounded[0].name) as info:
        TrimRequest("3104", 10_000.0, analysis, unbounded)
    assert info.value.field == "capacity_kg"
    assert TrimRequest("3104", 10_000.0, analysis, unbounded, capacity_kg=12_000.0).capacity() == 12_000.0
    bounded = [lot for lot in lots if lot.available_kg is not None]
    r = TrimRequest("3104", 10_000.0, analysis, bounded)
    assert r.capacity() == pytest.approx(10_000.0 + sum(lot.available_kg for lot in bounded))
    for field, kwargs in [("additions", {"additions": []}), ("melt_kg", {"melt_kg": 0.0}),
                          ("confidence", {"confidence": 1.0}), ("draws", {"draws": MIN_DRAWS - 1}),
                          ("aim_tighten", {"aim_tighten": 0.5})]:
        with pytest.raises(InputError) as info:
            TrimRequest(**{"spec": "3104", "melt_kg": 10_000.0, "analysis": analysis, "additions": bounded,
                           **kwargs})
        assert info.value.field == field


@pytest.mark.parametrize(("points", "ok"), [(2, True), (MAX_PARETO_POINTS, True), (1, False),
                                            (MAX_PARETO_POINTS + 1, False), (10.0, False)])
def test_pareto_points_from_two_to_the_maximum(lots, points, ok):
    if ok:
        assert ParetoRequest("3104", 20_000.0, lots, points=points).points == points
    else:
        with pytest.raises(InputError, match=f"between 2 and {MAX_PARETO_POINTS}") as info:
            ParetoRequest("3104", 20_000.0, lots, points=points)
        assert info.value.field == "points"


def test_pareto_refuses_no_lots_and_no_mass(lots):
    for field, kwargs in [("lots", {"lots": []}), ("mass_kg", {"mass_kg": -5.0}), ("confidence", {"confidence": 0.3})]:
        with pytest.raises(InputError) as info:
            ParetoRequest(**{"spec": "3104", "mass_kg": 20_000.0, "lots": lots, **kwargs})
        assert info.value.field == field


def test_a_campaign_names_the_heat_whose_confidence_is_wrong(lots):
    spec = get_alloy("3104")
    ok = Heat("H1", spec, 20_000.0, 0.95)
    assert CampaignRequest([ok], lots).heats == (ok,)
    with pytest.raises(InputError) as info:
        CampaignRequest([ok, Heat("H2", spec, 20_000.0, 1.0)], lots)
    assert info.value.field == "heats[H2].confidence"
    for field, kwargs in [("heats", {"heats": []}), ("lots", {"lots": []}), ("draws", {"draws": MIN_DRAWS - 1})]:
        with pytest.raises(InputError) as info:
            CampaignRequest(**{"heats": [ok], "lots": lots, **kwargs})
        assert info.value.field == field


def test_the_melt_of_a_charge_request_carries_every_field(lots):
    heel = Composition({"Mg": 1.0, "Mn": 0.9})
    r = ChargeRequest("3104", 20_000.0, lots, heel_kg=3_000.0, heel_composition=heel, capacity_kg=25_000.0,
                      mass_tolerance_kg=150.0, recoveries={"Mg": 0.9})
    melt = r.melt()
    assert (melt.mass_kg, melt.heel_kg, melt.capacity_kg, melt.mass_tolerance_kg) == (20_000.0, 3_000.0, 25_000.0,
                                                                                      150.0)
    assert melt.heel_composition == heel
    assert melt.recovery("Mg") == 0.9
    assert ParetoRequest("3104", 20_000.0, lots, capacity_kg=25_000.0).melt().capacity_kg == 25_000.0


def test_requests_hold_their_sequences_as_tuples(lots):
    from blending.trim import analysis_from_mapping

    bounded = [lot for lot in lots if lot.available_kg is not None]
    heat = Heat("H1", get_alloy("3104"), 20_000.0)
    assert ChargeRequest("3104", 20_000.0, list(lots)).lots == tuple(lots)
    assert ParetoRequest("3104", 20_000.0, list(lots)).lots == tuple(lots)
    assert TrimRequest("3104", 1.0, analysis_from_mapping({"Mg": 1.0}), list(bounded)).additions == tuple(bounded)
    campaign = CampaignRequest([heat], list(lots))
    assert campaign.heats == (heat,) and campaign.lots == tuple(lots)


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"additions": []}, "additions", "lists no additions"),
    ({"melt_kg": -1.0}, "melt_kg", "-1 kg must be positive"),
])
def test_trim_request_messages(lots, kwargs, field, message):
    from blending.trim import analysis_from_mapping

    with pytest.raises(InputError, match=message) as info:
        TrimRequest(**{"spec": "3104", "melt_kg": 1.0, "analysis": analysis_from_mapping({"Mg": 1.0}),
                       "additions": [lot for lot in lots if lot.available_kg is not None], **kwargs})
    assert info.value.field == field
