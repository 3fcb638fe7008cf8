"""Chance-constraint maths: z scores, Bonferroni, tangent cuts, cone evaluation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from blending.chance import Cone, ConeStack, bonferroni, z_score


def test_z_scores_are_normal_quantiles():
    assert z_score(0.5) == 0.0
    assert z_score(0.95) == pytest.approx(1.6448536, abs=1e-6)
    assert z_score(0.99) == pytest.approx(2.3263479, abs=1e-6)


@pytest.mark.parametrize("bad", [0.49, 1.0, 1.2, -0.1])
def test_confidence_outside_range_is_refused(bad):
    with pytest.raises(ValueError, match="must be at least 0.5 and below 1"):
        z_score(bad)


def test_bonferroni_splits_the_risk_evenly():
    assert bonferroni(0.95, 10) == pytest.approx(0.995)
    assert bonferroni(0.9, 1) == pytest.approx(0.9)


vec = arrays(np.float64, 5, elements=st.floats(0, 3))


@settings(max_examples=200)
@given(a=arrays(np.float64, 5, elements=st.floats(-1, 1)), d=vec, d0=st.floats(0, 1), z=st.floats(0, 3),
       vbar=vec, v=vec)
def test_tangent_cut_never_cuts_off_a_feasible_point(a, d, d0, z, vbar, v):
    cone = Cone(a=a, a0=-0.5, d=d, d0=d0, z=z)
    g, h = cone.cut(vbar)
    # the cut is a lower bound of the cone function everywhere and exact at vbar
    assert g @ v - h <= cone.value(v) + 1e-9
    assert g @ vbar - h == pytest.approx(cone.value(vbar), abs=1e-9)


def test_cone_stack_agrees_with_each_cone():
    rng = np.random.default_rng(0)
    cones = [Cone(rng.normal(size=4), float(rng.normal()), rng.uniform(size=4), 0.1, 1.6) for _ in range(3)]
    v = rng.uniform(size=4)
    np.testing.assert_allclose(ConeStack(cones, 4).values(v), [c.value(v) for c in cones])
