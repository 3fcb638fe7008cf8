"""Campaign plan: joint optimum against Clarabel and against the greedy sequential plan."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from blending.campaign import Heat, greedy_campaign, joint_campaign, load_schedule
from blending.catalogue.materials import get_material
from blending.catalogue.spec import get_alloy
from blending.catalogue.tables import DataFileError
from blending.errors import InputError
from blending.lot import Lot, load_inventory
from research.campaign_socp_reference import campaign as reference_campaign

EXAMPLES = Path(__file__).parents[2] / "examples"
SCRAP = ["UBC", "can plant scrap body", "can plant scrap end", "litho sheet", "new 6xxx extrusion scrap",
         "6063 extrusions", "old mixed sheet"]
TO_ORDER = ["P1020", "Mg ingot", "Mn 75 tablets", "Si metal", "Al-Cu 50"]


def random_instance(seed):
    """Scrap in random short supply plus primary and hardeners to order (so every heat is possible)."""
    rng = np.random.default_rng(seed)
    scrap = rng.choice(SCRAP, size=4, replace=False)
    lots = [Lot(get_material(s), float(rng.integers(2, 15)) * 1000) for s in scrap]
    lots += [Lot(get_material(s)) for s in TO_ORDER]
    heats = [Heat(f"H{k + 1}", get_alloy(str(rng.choice(["3104", "5182", "6063"]))),
                  float(rng.integers(8, 20)) * 1000, float(rng.choice([0.5, 0.9, 0.95])))
             for k in range(int(rng.integers(2, 4)))]
    return heats, lots


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_joint_plan_equals_an_independent_clarabel_solve(seed):
    heats, lots = random_instance(seed)
    plan = joint_campaign(heats, lots, draws=0)
    recycled, cost, _ = reference_campaign(heats, lots)
    assert plan.status == "optimal"
    assert_allclose(plan.recycled_kg, recycled, rtol=1e-6)
    assert_allclose(plan.cost, cost, rtol=1e-6)


@pytest.mark.parametrize("seed", range(4, 10))
def test_joint_plan_is_never_worse_than_greedy_and_respects_availability(seed):
    heats, lots = random_instance(seed)
    joint = joint_campaign(heats, lots, draws=0)
    greedy = greedy_campaign(heats, lots, draws=0)
    assert joint.status == "optimal"
    if greedy.status == "optimal":
        # lexicographic: at least as much recycled metal, and no dearer when equal
        assert joint.recycled_kg >= greedy.recycled_kg - 1e-6 * joint.mass_kg
        if joint.recycled_kg <= greedy.recycled_kg + 1e-5 * joint.mass_kg:
            assert joint.cost <= greedy.cost * (1 + 1e-5)
    for plan in (joint, greedy):
        for lot, used in zip(lots, plan.use_kg(), strict=True):
            if lot.available_kg is not None:
                assert used <= lot.available_kg + 1e-6


def test_each_heat_of_the_joint_plan_is_its_own_feasible_charge():
    heats, lots = random_instance(11)
    plan = joint_campaign(heats, lots, draws=5000)
    for hp in plan.heats:
        assert_allclose(hp.recipe.liquid_kg, hp.heat.mass_kg, rtol=1e-8)
        # per-limit chance constraints at the heat's confidence, checked by Monte Carlo
        worst = min(lc.probability for lc in hp.recipe.compliance)
        assert worst >= hp.heat.confidence - 0.02


def test_shipped_example_shows_the_value_of_planning_together():
    heats = load_schedule(EXAMPLES / "campaign_schedule.csv")
    lots = load_inventory(EXAMPLES / "campaign_inventory.csv")
    joint = joint_campaign(heats, lots, draws=0)
    greedy = greedy_campaign(heats, lots, draws=0)
    assert [h.spec.name for h in heats] == ["5182", "6063", "3104"]
    assert greedy.status == "optimal"
    assert joint.recycled_kg > greedy.recycled_kg + 100


def test_schedule_too_big_for_the_inventory_is_explained():
    lots = [Lot(get_material("UBC"), 10000), Lot(get_material("Mn 75 tablets")), Lot(get_material("Mg ingot"))]
    heats = [Heat("H1", get_alloy("3104"), 8000, 0.5), Heat("H2", get_alloy("3104"), 8000, 0.5)]
    plan = joint_campaign(heats, lots, draws=0)
    assert plan.status == "infeasible"
    assert "cannot cover the whole schedule together" in plan.message
    greedy = greedy_campaign(heats, lots, draws=0)
    assert greedy.status == "infeasible" and "H2" in greedy.message


@pytest.mark.parametrize(("rows", "match"), [
    ("H1,3104,20000\nH2,5182,15000\nH3,9999,12000\n", r"schedule.csv row 4, alloy: unknown alloy '9999'"),
    ("H1,3104,-5\n", r"schedule.csv row 2, mass_kg: -5 kg must be at least 0"),
    ("H1,3104,0\n", r"schedule.csv row 2, mass_kg: 0 kg"),
    ("H1,3104,100\nH1,5182,100\n", r"schedule.csv row 3, heat: 'H1' is already listed in row 2"),
    ("H1,3104,100,1.2\n", r"schedule.csv row 2, confidence: 1.2 must be between 0.5 and 1"),
])
def test_bad_schedule_names_file_row_and_field(tmp_path, rows, match):
    path = tmp_path / "schedule.csv"
    path.write_text("heat,alloy,mass_kg" + (",confidence" if rows.count(",") > rows.count("\n") * 2 else "")
                    + "\n" + rows)
    with pytest.raises(DataFileError, match=match):
        load_schedule(path)


ALLOYS = ["3104", "5182", "6063", "1050A", "A356.2"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(ALLOYS), st.floats(1, 1e6, allow_nan=False),
                          st.one_of(st.none(), st.floats(0.5, 0.999))), min_size=1, max_size=6))
def test_schedule_round_trips_through_csv(tmp_path, heats):
    path = tmp_path / "schedule.csv"
    lines = ["heat,alloy,mass_kg,confidence"]
    lines += [f"H{k},{a},{m!r},{'' if c is None else repr(c)}" for k, (a, m, c) in enumerate(heats)]
    path.write_text("\n".join(lines) + "\n")
    got = load_schedule(path, confidence=0.97)
    assert [h.name for h in got] == [f"H{k}" for k in range(len(heats))]
    assert [h.spec.name for h in got] == [a for a, _, _ in heats]
    assert [h.mass_kg for h in got] == [m for _, m, _ in heats]
    # the column is the whole heat's figure; a blank takes the command's per-limit expert option
    assert [h.joint_target for h in got] == [c for _, _, c in heats]
    assert [h.confidence for h in got] == [0.97 if c is None else None for _, _, c in heats]


def test_schedule_columns_and_defaults_follow_blend(tmp_path):
    """``confidence`` is the whole heat's figure, ``per_limit_confidence`` the expert one; a blank
    row takes the command's figure, and with none given a heat is planned for joint 0.95."""
    path = tmp_path / "schedule.csv"
    path.write_text("heat,alloy,mass_kg,confidence,per_limit_confidence\n"
                    "H1,3104,20000,0.9,\nH2,3104,20000,,0.99\nH3,3104,20000,,\n")
    h1, h2, h3 = load_schedule(path)
    assert (h1.joint_target, h1.confidence) == (0.9, None)
    assert (h2.joint_target, h2.confidence) == (None, 0.99)
    assert (h3.joint_target, h3.confidence) == (0.95, None)
    assert load_schedule(path, confidence=0.97)[2].confidence == 0.97
    assert load_schedule(path, joint_confidence=0.99)[2].joint_target == 0.99
    assert Heat("H", get_alloy("3104"), 1000.0).confidence_text == "joint 0.95"
    with pytest.raises(InputError, match="alternative to joint_confidence"):
        load_schedule(path, confidence=0.9, joint_confidence=0.9)
