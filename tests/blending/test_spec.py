"""Spec verdicts on compositions whose margins are computed by hand."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blending.catalogue.composition import Composition
from blending.catalogue.spec import Limit, Spec, alloy_catalogue, get_alloy, load_limits_csv
from blending.catalogue.tables import DataFileError
from blending.errors import InputError

REQUIRED = ["1050A", "1100", "2024", "3003", "3004", "3104", "5042", "5052", "5182", "5754",
            "6061", "6063", "6082", "6463", "7075", "A356.2", "A380", "ADC12"]


def test_catalogue_holds_every_required_alloy_with_a_source():
    catalogue = alloy_catalogue()
    assert set(REQUIRED) <= set(catalogue)
    for spec in catalogue.values():
        assert spec.source.strip()
        assert spec.family
        for lim in spec.limits.values():
            lo, hi = lim.min_wt_pct, lim.max_wt_pct
            assert lo is None or 0 <= lo <= 100
            assert hi is None or 0 <= hi <= 100
            assert lo is None or hi is None or lo <= hi


def test_5182_limits_match_the_teal_sheet():
    spec = get_alloy("5182")
    assert spec.bounds()["Mg"] == (4.0, 5.0)
    assert spec.bounds()["Mn"] == (0.20, 0.50)
    assert spec.others_each_max_wt_pct == 0.05
    assert spec.others_total_max_wt_pct == 0.15


# A typical 3104 can-body analysis and the hand-computed margins to the 3104 limits
# (Si <=0.60, Fe <=0.80, Cu 0.05-0.25, Mn 0.80-1.40, Mg 0.80-1.30, Zn <=0.25, Ti <=0.10,
# Ga <=0.05, V <=0.05, others 0.05 each / 0.15 total).
IN_3104 = {"Si": 0.21, "Fe": 0.45, "Cu": 0.17, "Mn": 0.86, "Mg": 1.12, "Zn": 0.06, "Ti": 0.02, "Ga": 0.015,
           "V": 0.01, "Cr": 0.02, "Ni": 0.01}


def test_3104_sample_in_spec_with_hand_computed_margins():
    verdict = get_alloy("3104").check(Composition(IN_3104))
    assert verdict.in_spec
    expected = {
        ("Si", "max"): 0.60 - 0.21,
        ("Fe", "max"): 0.80 - 0.45,
        ("Cu", "min"): 0.17 - 0.05,
        ("Cu", "max"): 0.25 - 0.17,
        ("Mn", "min"): 0.86 - 0.80,
        ("Mn", "max"): 1.40 - 0.86,
        ("Mg", "min"): 1.12 - 0.80,
        ("Mg", "max"): 1.30 - 1.12,
        ("others each (Cr)", "max"): 0.05 - 0.02,
        ("others each (Ni)", "max"): 0.05 - 0.01,
        ("others total", "max"): 0.15 - 0.03,
    }
    for (limit, bound), margin in expected.items():
        assert verdict.margin(limit, bound).margin_wt_pct == pytest.approx(margin, abs=1e-12)


def test_3104_sample_out_of_spec_names_each_violation():
    out = dict(IN_3104, Mg=1.42, Fe=0.83, Cr=0.07)
    verdict = get_alloy("3104").check(Composition(out))
    assert not verdict.in_spec
    violations = {(m.limit, m.bound): m.margin_wt_pct for m in verdict.violations}
    assert violations.keys() == {("Mg", "max"), ("Fe", "max"), ("others each (Cr)", "max")}
    assert violations[("Mg", "max")] == pytest.approx(1.30 - 1.42)
    assert violations[("Fe", "max")] == pytest.approx(0.80 - 0.83)
    assert violations[("others each (Cr)", "max")] == pytest.approx(0.05 - 0.07)


def test_sum_limit_and_aluminium_minimum():
    # 5754: Mn+Cr 0.10-0.60 while Mn <= 0.50 and Cr <= 0.30 each hold
    comp = Composition({"Mg": 3.0, "Mn": 0.45, "Cr": 0.25, "Fe": 0.3, "Si": 0.2})
    verdict = get_alloy("5754").check(comp)
    assert verdict.margin("Mn+Cr", "max").margin_wt_pct == pytest.approx(0.60 - 0.70)
    assert [m.limit for m in verdict.violations] == ["Mn+Cr"]
    # 1050A: Al >= 99.50; Fe 0.40 + Si 0.15 + Cu 0.02 leaves 99.43
    verdict = get_alloy("1050A").check(Composition({"Fe": 0.40, "Si": 0.15, "Cu": 0.02}))
    assert verdict.margin("Al", "min").margin_wt_pct == pytest.approx(99.43 - 99.50)
    assert not verdict.in_spec


def test_aim_limits_are_tighter_and_checked_separately():
    spec = get_alloy("5182").tightened(0.1)
    assert spec.bounds(aim=True)["Mg"] == pytest.approx((4.1, 4.9))
    assert spec.bounds(aim=True)["Fe"] == (None, pytest.approx(0.315))
    comp = Composition({"Mg": 4.05, "Mn": 0.3, "Fe": 0.2})
    assert spec.check(comp).in_spec
    assert not spec.check(comp, aim=True).in_spec
    with pytest.raises(ValueError, match="aim Mg max 5.2 wt% lies above the spec max 5"):
        get_alloy("5182").with_aim({"Mg": (4.2, 5.2)})


@given(st.floats(0, 6), st.floats(0, 6))
def test_verdict_agrees_with_margins(mg, si):
    spec = Spec("t", limits={"Mg": Limit(("Mg",), 1.0, 3.0), "Si": Limit(("Si",), None, 2.0)})
    verdict = spec.check(Composition({"Mg": mg, "Si": si}))
    assert verdict.in_spec == (1.0 <= mg <= 3.0 and si <= 2.0)


def test_alloy_lookup_accepts_common_spellings_and_rejects_unknown():
    assert get_alloy("en aw-5182").name == "5182"
    assert get_alloy("A380.0").name == "A380"
    assert get_alloy(" AA5182 ").name == "5182"
    assert get_alloy("aa 6061").name == "6061"
    assert get_alloy("EN AW-6082").name == "6082"
    assert get_alloy("a356.2").name == "A356.2"
    with pytest.raises(KeyError, match="unknown alloy '9999'"):
        get_alloy("9999")


def test_custom_limits_csv_accepts_any_element(tmp_path):
    path = tmp_path / "limits.csv"
    path.write_text("element,min,max\nMg,4.0,5.0\nBe,,0.0008\nBi,,0.01\n")
    spec = load_limits_csv(path)
    assert spec.bounds() == {"Mg": (4.0, 5.0), "Be": (None, 0.0008), "Bi": (None, 0.01)}


@pytest.mark.parametrize(
    "body, match",
    [
        ("element,min,max\nMg,5.0,4.0\n", r"limits.csv row 2, min: min 5 wt% exceeds max 4 wt%"),
        ("element,min,max\nMg,,\n", r"limits.csv row 2, min: both min and max are blank"),
        ("element,min,max\nXx,,1\n", r"limits.csv row 2, element: 'Xx' is not an element symbol"),
        ("element,min,max\nMg,4,5\nSi,,abc\n", r"limits.csv row 3, max: 'abc' is not a number"),
        ("element,min,max\nMg,4,5\n\nMg,4,5\n", r"limits.csv row 4, element: Mg is listed twice"),
        ("element,min,max\nMg,-1,5\n", r"limits.csv row 2, min: -1 wt% must be between 0 and 100"),
        ("element,lo,hi\nMg,4,5\n", r"limits.csv row 1: needs columns element, min and max"),
    ],
)
def test_bad_limit_rows_name_file_row_and_field(tmp_path, body, match):
    path = tmp_path / "limits.csv"
    path.write_text(body)
    with pytest.raises(DataFileError, match=match):
        load_limits_csv(path)


# On a limit is in spec, and so is float round-off outside it (0.1 + 0.2 > 0.3 by 5.6e-17); a real
# excess (1e-6 wt%, far below any OES resolution but far above round-off) is out. Spec verdicts and
# the re-grade offer of a melt that cannot be saved (trim.regrade_options) must apply the same rule.
BOUNDARY = Spec("edge", limits={"Mg": Limit(("Mg",), 4.0, 5.0), "Mn+Cr": Limit(("Mn", "Cr"), None, 0.3),
                                "Si": Limit(("Si",), None, 0.2)},
                others_each_max_wt_pct=0.05, others_total_max_wt_pct=0.15)
INSIDE = {"Mg": 4.5, "Mn": 0.1, "Cr": 0.1, "Si": 0.1}
BOUNDARY_CASES = [
    # (composition, limit, bound, in spec)
    ({**INSIDE, "Mg": 5.0}, "Mg", "max", True),                       # exactly on a max
    ({**INSIDE, "Mg": 4.0}, "Mg", "min", True),                       # exactly on a min
    ({**INSIDE, "Mn": 0.1, "Cr": 0.2}, "Mn+Cr", "max", True),         # a sum on its max within round-off
    ({**INSIDE, "Si": 0.2}, "Si", "max", True),
    ({**INSIDE, "Zn": 0.05}, "others each (Zn)", "max", True),        # an "other" exactly on its max
    ({**INSIDE, "Zn": 0.05, "Ga": 0.05, "V": 0.05}, "others total", "max", True),
    ({**INSIDE, "Mg": 5.0 + 1e-6}, "Mg", "max", False),              # a real excess
    ({**INSIDE, "Mg": 4.0 - 1e-6}, "Mg", "min", False),
    ({**INSIDE, "Cr": 0.2 + 1e-6}, "Mn+Cr", "max", False),
    ({**INSIDE, "Zn": 0.05 + 1e-6}, "others each (Zn)", "max", False),
]


@pytest.mark.parametrize(("wt_pct", "limit", "bound", "inside"), BOUNDARY_CASES)
def test_on_a_limit_and_within_round_off_is_in_spec(wt_pct, limit, bound, inside):
    verdict = BOUNDARY.check(Composition(wt_pct))
    margin = verdict.margin(limit, bound)
    assert margin.ok is inside
    assert verdict.in_spec is inside
    assert [(m.limit, m.bound) for m in verdict.violations] == ([] if inside else [(limit, bound)])


def test_the_limit_itself_and_round_off_give_margins_of_zero_or_less_than_a_nanopercent():
    on = BOUNDARY.check(Composition({**INSIDE, "Mg": 5.0})).margin("Mg", "max")
    assert on.margin_wt_pct == 0.0 and on.ok
    summed = BOUNDARY.check(Composition({**INSIDE, "Mn": 0.1, "Cr": 0.2})).margin("Mn+Cr", "max")
    assert -1e-15 < summed.margin_wt_pct < 0 and summed.ok   # 0.3 - (0.1 + 0.2): round-off, still in


@pytest.mark.parametrize(("wt_pct", "limit", "bound", "inside"), BOUNDARY_CASES)
def test_regrade_offers_an_alloy_exactly_when_its_verdict_is_in_spec(wt_pct, limit, bound, inside):
    from blending.trim import analysis_from_mapping, regrade_options

    analysis = analysis_from_mapping(wt_pct)
    offered = [r.alloy for r in regrade_options(analysis, {"edge": BOUNDARY})]
    assert offered == (["edge"] if inside else [])
    assert BOUNDARY.check(analysis.composition).in_spec is inside


def test_custom_limits_take_the_file_name_unless_named_and_read_wt_pct_headers(tmp_path):
    path = tmp_path / "plant_5xxx.csv"
    path.write_text("element,min_wt_pct,max_wt_pct\nMg,4.0,5.0\n")
    assert load_limits_csv(path).name == "plant_5xxx"
    named = load_limits_csv(path, "ours")
    assert named.name == "ours" and named.bounds() == {"Mg": (4.0, 5.0)} and named.source == str(path)


@pytest.mark.parametrize(("body", "match"), [
    ("element,min,max\n", r"limits\.csv: has no limits"),
    ("min,max\n4,5\n", r"limits\.csv.*element"),
])
def test_an_empty_or_unkeyed_limits_file_is_named(tmp_path, body, match):
    path = tmp_path / "limits.csv"
    path.write_text(body)
    with pytest.raises(DataFileError, match=match):
        load_limits_csv(path)


def test_asking_a_verdict_for_a_limit_it_lacks_names_the_spec_and_limit():
    verdict = BOUNDARY.check(Composition(INSIDE))
    with pytest.raises(KeyError, match="edge has no min limit on Si"):
        verdict.margin("Si", "min")


def test_round_off_allowance_is_inclusive_and_no_wider():
    from blending.catalogue.spec import ON_LIMIT_TOLERANCE_WT_PCT as ROUND_OFF_WT_PCT
    from blending.catalogue.spec import within_limit

    assert within_limit(0.0) and within_limit(-ROUND_OFF_WT_PCT)
    assert not within_limit(-2 * ROUND_OFF_WT_PCT) and not within_limit(-1e-6)


def test_every_margin_reports_its_limit_and_the_value_checked():
    spec = Spec("m", limits={"Mg": Limit(("Mg",), 4.0, 5.0)}, others_each_max_wt_pct=0.05,
                others_total_max_wt_pct=0.15, al_min_wt_pct=90.0)
    verdict = spec.check(Composition({"Mg": 4.5, "Zn": 0.04, "Ga": 0.02}))
    assert verdict.spec == "m"
    got = {(m.limit, m.bound): (m.limit_wt_pct, m.value_wt_pct, m.margin_wt_pct) for m in verdict.margins}
    want = {("Mg", "min"): (4.0, 4.5, 0.5), ("Mg", "max"): (5.0, 4.5, 0.5),
                                 ("others each (Zn)", "max"): (0.05, 0.04, 0.01),
                                 ("others each (Ga)", "max"): (0.05, 0.02, 0.03),
                                 ("others total", "max"): (0.15, 0.06, 0.09),
                                 ("Al", "min"): (90.0, 95.44, 5.44)}
    assert got.keys() == want.keys()
    for key, values in want.items():
        assert got[key] == pytest.approx(values, abs=1e-12), key


def test_tightening_by_zero_keeps_the_spec_and_by_one_half_is_refused():
    spec = Spec("t", limits={"Mg": Limit(("Mg",), 4.0, 5.0), "Si": Limit(("Si",), None, 0.4),
                             "Cu": Limit(("Cu",), 0.1, None)})
    assert spec.tightened(0.0).bounds(aim=True) == spec.bounds()
    with pytest.raises(InputError, match=r"tightening fraction 0.5 must be in \[0, 0.5\)"):
        spec.tightened(0.5)
    # a min-only limit is raised by the fraction of its min
    assert spec.tightened(0.1).bounds(aim=True)["Cu"] == (pytest.approx(0.11), None)


def test_aim_limits_inside_the_spec_keep_the_spec_bound_where_none_is_given():
    spec = get_alloy("5182")
    aimed = spec.with_aim({"Mg": (4.2, None), "Mn": (None, 0.45), "Cr+Mn": (None, 0.5)})
    bounds = aimed.bounds(aim=True)
    assert bounds["Mg"] == (4.2, 5.0) and bounds["Mn"] == (0.20, 0.45)
    assert bounds["Cr+Mn"] == (None, 0.5)                     # a sum with no spec limit of its own
    assert aimed.bounds() == spec.bounds()                    # the specification itself is unchanged
    with pytest.raises(InputError, match="5182 aim Mg min 3.9 wt% lies below the spec min 4"):
        spec.with_aim({"Mg": (3.9, None)})
    with pytest.raises(InputError, match="5182 aim Mn max 0.6 wt% lies above the spec max 0.5"):
        spec.with_aim({"Mn": (None, 0.6)})
    with pytest.raises(InputError, match="5182 aim: 'Xx' is not an element symbol"):
        spec.with_aim({"Xx": (None, 0.1)})
