"""Composition sampling: inside the catalogue limits, realistic (not only corners), reproducible."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from blending.catalogue.composition import Composition
from blending.catalogue.spec import alloy_catalogue, get_alloy
from sorter.grades import contaminant_catalogue, list_grades, resolve_grade, sample_alloys, sample_compositions


@pytest.mark.parametrize("grade", list(alloy_catalogue()))
def test_every_sampled_alloy_is_inside_its_specification(grade):
    spec = get_alloy(grade)
    for comp in sample_compositions(grade, 200, np.random.default_rng(1)):
        bulk = {k: v for k, v in comp.items() if k != "Al"}
        verdict = spec.check(Composition(bulk))
        assert verdict.in_spec, (grade, verdict.violations)
        assert_allclose(sum(comp.values()), 100.0)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["1050A", "5754", "6082", "7075", "A380"]), st.integers(0, 2 ** 32 - 1))
def test_any_seed_stays_inside_the_limits(grade, seed):
    spec = get_alloy(grade)
    for comp in sample_compositions(grade, 20, np.random.default_rng(seed)):
        assert spec.check(Composition({k: v for k, v in comp.items() if k != "Al"})).in_spec


def test_ranges_are_filled_around_the_middle_not_at_the_corners():
    cols, values = sample_alloys(get_alloy("5182"), 4000, np.random.default_rng(2))
    mg = values[:, cols.index("Mg")]
    assert abs(mg.mean() - 4.5) < 0.05                # centred in 4.0-5.0
    assert 0.18 < mg.std() < 0.26                     # a quarter of the range, truncated
    assert np.mean((mg < 4.02) | (mg > 4.98)) < 0.03  # few draws at the limits
    fe = values[:, cols.index("Fe")]
    assert fe.max() <= 0.35 and 0.1 < np.median(fe) < 0.2  # impurity skewed low, long tail


def test_contaminants_have_their_base_metal_by_balance():
    rng = np.random.default_rng(3)
    for name, spec in contaminant_catalogue().items():
        for comp in sample_compositions(name, 20, rng):
            assert_allclose(sum(comp.values()), 100.0)
            assert comp[spec.balance] >= spec.balance_min_wt_pct
            for el, (lo, hi, _) in spec.ranges.items():
                assert lo <= comp[el] <= hi
    assert {"copper", "brass", "zinc_diecast", "steel", "stainless", "lead"} <= set(contaminant_catalogue())


def test_same_seed_same_compositions():
    a = sample_compositions("6061", 5, np.random.default_rng(9))
    b = sample_compositions("6061", 5, np.random.default_rng(9))
    assert a == b


def test_grade_names_resolve_like_the_catalogue():
    assert resolve_grade("AA5182") == "5182"
    assert resolve_grade("brass") == "brass"
    assert "A356.2" in list_grades()
    with pytest.raises(KeyError, match="unknown grade 'bronze'; known grades: 1050A"):
        resolve_grade("bronze")
