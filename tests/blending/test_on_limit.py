"""One rule for "on the limit is in spec": Spec verdicts, recipe compliance and re-grading agree."""

from blending.catalogue.composition import Composition
from blending.catalogue.spec import ON_LIMIT_TOLERANCE_WT_PCT, Limit, Spec
from blending.trim import Analysis, regrade_options

SPEC = Spec("Fe-capped", {"Fe": Limit(("Fe",), None, 0.33), "Mg": Limit(("Mg",), 0.45, 0.9)})
# 0.33 reached by a computation (as the blend test in tests/cli finds it) lies 1 ulp above the bound
ON_LIMIT = 0.33 + 1e-16


def test_the_blended_value_is_above_the_bound_by_round_off_only():
    assert 0 < ON_LIMIT - 0.33 < 1e-15


def test_spec_verdict_counts_the_limit_as_in_spec_and_real_excess_as_out():
    assert SPEC.check(Composition({"Fe": ON_LIMIT, "Mg": 0.45})).in_spec
    assert not SPEC.check(Composition({"Fe": 0.33 + 10 * ON_LIMIT_TOLERANCE_WT_PCT, "Mg": 0.45})).in_spec


def test_regrade_with_exact_readings_offers_the_alloy_whose_limit_the_melt_meets_exactly():
    analysis = Analysis(Composition({"Fe": ON_LIMIT, "Mg": 0.6}), {})
    options = regrade_options(analysis, {"Fe-capped": SPEC})
    assert [(r.alloy, r.p_weakest) for r in options] == [("Fe-capped", 1.0)]
    over = Analysis(Composition({"Fe": 0.331, "Mg": 0.6}), {})
    assert regrade_options(over, {"Fe-capped": SPEC}) == []
