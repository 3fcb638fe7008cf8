"""Trim: additions checked against hand-computed dilution and hardener masses."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.optimize import brentq
from scipy.stats import norm

from blending.catalogue.materials import get_material
from blending.catalogue.spec import alloy_catalogue, get_alloy
from blending.catalogue.tables import DataFileError
from blending.lot import Lot
from blending.melt import default_recoveries
from blending.trim import analysis_from_mapping, load_analysis, oes_repeatability, trim

P1020 = get_material("P1020")
MG_INGOT = get_material("Mg ingot")
# 5182 melt inside every limit except the one each test moves
BASE_5182 = {"Si": 0.1, "Fe": 0.30, "Cu": 0.05, "Mn": 0.45, "Mg": 4.9, "Cr": 0.02, "Zn": 0.04, "Ti": 0.02}


def _added(result, name):
    return sum(ln.mass_kg for ln in result.recipe.lines if ln.material == name)


def test_high_iron_is_diluted_with_the_hand_computed_mass_of_p1020():
    H, fe0, cap = 18000.0, 0.38, 30000.0
    analysis = analysis_from_mapping({**BASE_5182, "Fe": fe0})
    result = trim(H, analysis, get_alloy("5182"), [Lot(P1020)], cap, confidence=0.5, draws=2000)
    # (H fe0 + y x c) / (H + y x) = 0.35  ->  y x = H (fe0 - 0.35) / (0.35 - c)
    y, c = P1020.metal_yield, P1020.composition["Fe"]
    x_hand = H * (fe0 - 0.35) / (0.35 - c) / y
    assert result.status == "trimmed"
    assert_allclose(_added(result, "P1020"), x_hand, rtol=1e-7)
    assert_allclose(result.recipe.composition_wt_pct["Fe"], 0.35, atol=1e-8)
    assert_allclose(result.recipe.cost, x_hand * P1020.cost_per_kg, rtol=1e-7)


def test_high_iron_at_95_percent_matches_a_scalar_root_of_the_chance_constraint():
    H, fe0, cap = 18000.0, 0.36, 30000.0
    analysis = analysis_from_mapping({**BASE_5182, "Fe": fe0})
    result = trim(H, analysis, get_alloy("5182"), [Lot(P1020)], cap, confidence=0.95, draws=2000)
    y, c, s = P1020.metal_yield, P1020.composition["Fe"], P1020.sd("Fe")
    s0 = analysis.sd_wt_pct["Fe"]
    z = norm.ppf(0.95)

    def excess(x):  # Fe mass + z sd - 0.35 L, in kg x wt%
        return H * fe0 + y * x * c + z * math.hypot(H * s0, y * x * s) - 0.35 * (H + y * x)

    x_hand = brentq(excess, 0, cap - H)
    assert_allclose(_added(result, "P1020"), x_hand, rtol=1e-6)
    fe = next(lc for lc in result.recipe.compliance if lc.limit.label == "Fe max")
    assert abs(fe.probability - 0.95) < 0.015  # Monte Carlo, 2000 draws: sd about 0.005


def test_low_magnesium_is_raised_with_the_hand_computed_mass_of_ingot_with_recovery():
    H, mg0 = 18000.0, 3.8
    analysis = analysis_from_mapping({**BASE_5182, "Mg": mg0})
    result = trim(H, analysis, get_alloy("5182"), [Lot(MG_INGOT)], 25000, confidence=0.5, draws=2000)
    r = default_recoveries()["Mg"]
    y, c = MG_INGOT.metal_yield, MG_INGOT.composition["Mg"]
    # (H mg0 + y x r c) / (H + y x) = 4.0
    x_hand = H * (4.0 - mg0) / (r * c - 4.0) / y
    assert_allclose(_added(result, "Mg ingot"), x_hand, rtol=1e-7)
    assert_allclose(result.recipe.composition_wt_pct["Mg"], 4.0, atol=1e-8)


def test_a_melt_inside_the_limits_needs_nothing():
    result = trim(18000, analysis_from_mapping({**BASE_5182, "Mg": 4.5}), get_alloy("5182"),
                  [Lot(P1020), Lot(MG_INGOT)], 25000,
                  draws=2000)
    assert result.status == "in spec"
    assert result.recipe.cost == 0
    assert "add nothing" in result.statement()


def test_an_unsavable_melt_names_the_limits_at_full_dilution_and_a_regrade():
    # 1050A: Fe max 0.40, Cu max 0.05, Al min 99.50; only 7000 kg of P1020 fit in the furnace
    H, cap = 18000.0, 25000.0
    melt = {"Fe": 0.6, "Si": 0.2, "Cu": 0.1, "Zn": 0.05}
    analysis = analysis_from_mapping(melt)
    result = trim(H, analysis, get_alloy("1050A"), [Lot(P1020)], cap, confidence=0.5, draws=2000)
    assert result.status == "cannot be saved" and not result.saved
    y = P1020.metal_yield
    L = H + y * (cap - H)  # every kg the furnace holds is P1020

    r = default_recoveries()

    def diluted(elements):  # the heel is liquid already; the charge loses what does not recover
        return (H * sum(melt.get(e, 0) for e in elements)
                + y * (cap - H) * sum(r.get(e, 1.0) * P1020.composition[e] for e in elements)) / L

    assert_allclose(result.best_liquid_kg, L, rtol=1e-9)
    got = {s.name: s.amount for s in result.shortfalls}
    assert set(got) == {"Fe max", "Cu max", "Al min"}
    assert_allclose(got["Fe max"], diluted(["Fe"]) - 0.40, rtol=1e-6)
    assert_allclose(got["Cu max"], diluted(["Cu"]) - 0.05, rtol=1e-6)
    others = set(melt) | set(P1020.composition)
    assert_allclose(got["Al min"], diluted(others) - 0.50, rtol=1e-6)
    # re-grade: exactly the catalogue alloys whose spec the measured melt passes
    expected = {name for name, spec in alloy_catalogue().items() if spec.check(analysis.composition).in_spec}
    assert "1100" in expected
    assert {r.alloy for r in result.regrade} == expected
    assert "cannot be brought inside" in result.statement() and "1100" in result.statement()


def test_capacity_must_leave_room():
    with pytest.raises(ValueError, match="capacity 18000 kg must be above the melt mass"):
        trim(18000, analysis_from_mapping(BASE_5182), get_alloy("5182"), [Lot(P1020)], 18000)


def test_load_analysis_reads_sd_and_fills_missing_with_oes_repeatability(tmp_path):
    path = tmp_path / "analysis.csv"
    path.write_text("element,wt_pct,sd_wt_pct\nFe,0.4,0.01\nMg,4.5,\nAl,95.1,\n")
    a = load_analysis(path)
    assert a.composition["Fe"] == 0.4 and a.sd_wt_pct["Fe"] == 0.01
    assert a.sd_wt_pct["Mg"] == oes_repeatability({"Mg": 4.5})["Mg"]


@pytest.mark.parametrize(("text", "match"), [
    ("element,wt_pct\nFe,0.4\nXx,0.1\n", "analysis.csv row 3, element: 'Xx' is not an element symbol"),
    ("element,wt_pct\nFe,-0.4\n", "analysis.csv row 2, wt_pct: -0.4 wt% must be between 0 and 100"),
    ("element,wt_pct\nFe,0.4\nFe,0.5\n", "analysis.csv row 3, element: Fe is already given in row 2"),
    ("element,value\nFe,0.4\n", "missing column"),
])
def test_bad_analysis_names_file_row_and_field(tmp_path, text, match):
    path = tmp_path / "analysis.csv"
    path.write_text(text)
    with pytest.raises(DataFileError, match=match):
        load_analysis(path)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["Si", "Fe", "Cu", "Mn", "Mg", "Zn", "Ti", "Cr"]),
                       st.floats(0, 10, allow_nan=False), max_size=8))
def test_oes_repeatability_is_positive_and_grows_with_the_reading(reading):
    sd = oes_repeatability(reading)
    for e, w in reading.items():
        assert sd[e] > 0
        doubled = oes_repeatability({e: 2 * w})[e]
        assert doubled >= sd[e] - 1e-15
    assert np.all(np.isfinite(list(sd.values())))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["Si", "Fe", "Cu", "Mn", "Mg", "Zn", "Ti", "Cr", "Ni", "Ga"]),
                       st.tuples(st.floats(0, 9, allow_nan=False), st.one_of(st.none(), st.floats(0, 1))),
                       min_size=1, max_size=10))
def test_analysis_round_trips_through_csv(tmp_path, readings):
    path = tmp_path / "analysis.csv"
    path.write_text("element,wt_pct,sd_wt_pct\n" + "".join(
        f"{e},{w!r},{'' if s is None else repr(s)}\n" for e, (w, s) in readings.items()))
    a = load_analysis(path)
    typical = oes_repeatability({e: w for e, (w, _) in readings.items()})
    for e, (w, s) in readings.items():
        assert a.composition[e] == w
        assert a.sd_wt_pct.get(e, 0.0) == (typical.get(e, 0.0) if s is None else s)


def test_hardener_in_whole_units_rounds_the_hand_mass_up_to_the_next_unit():
    H, mg0, unit = 18000.0, 3.8, 25.0
    analysis = analysis_from_mapping({**BASE_5182, "Mg": mg0})
    lot = Lot(MG_INGOT, available_kg=1000, unit_kg=unit)
    result = trim(H, analysis, get_alloy("5182"), [lot], 25000, confidence=0.5, draws=2000)
    r = default_recoveries()["Mg"]
    x_hand = H * (4.0 - mg0) / (r * MG_INGOT.composition["Mg"] - 4.0) / MG_INGOT.metal_yield
    (line,) = result.recipe.lines
    assert line.units == math.ceil(x_hand / unit)
    assert_allclose(line.mass_kg, line.units * unit)
