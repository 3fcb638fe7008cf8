"""Fusion: the calibrated product against a Monte Carlo of its generative model, and the two rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorter.vision.fusion import fuse, visual_given_grade
from sorter.vision.synthesis import VISUAL_CLASSES

TABLE, CANS = visual_given_grade()
GRADES = ["3104", "5182", "6063", "6082", "A380", "copper", "steel"]
ALUMINIUM = {"3104", "5182", "6063", "6082", "A380"}


def test_table_rows_are_distributions_and_cans_are_the_can_grades():
    for p in TABLE.values():
        assert p.sum() == pytest.approx(1.0) and (p > 0).all()
    assert CANS == {"3104", "5182"}


def test_camera_alone_matches_bayes_by_sampling():
    # uniform LIBS: the fused posterior given "the camera sees a painted can" is P(g | v) under a
    # uniform grade prior; sample (g, v) pairs and count
    rng = np.random.default_rng(0)
    grades = list(TABLE)
    n = 400_000
    g = rng.integers(len(grades), size=n)
    cum = np.cumsum(np.stack([TABLE[x] for x in grades]), 1)
    v = (rng.random(n)[:, None] > cum[g]).sum(1)
    painted = g[v == VISUAL_CLASSES.index("painted_can")]
    freq = np.bincount(painted, minlength=len(grades)) / painted.size
    d = fuse({x: 1 / len(grades) for x in grades}, {"painted_can": 1.0})
    got = np.array([d.probabilities[x] for x in grades])
    assert np.abs(got - freq).max() < 0.01


def test_an_uninformative_camera_leaves_libs_alone():
    prior_v = np.stack(list(TABLE.values())).mean(0)
    libs = dict(zip(GRADES, [0.5, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02], strict=True))
    d = fuse(libs, dict(zip(VISUAL_CLASSES, prior_v, strict=True)))
    # the table's mean over all grades, applied to a subset, is nearly flat; the ranking holds
    assert d.grade == "3104"
    assert d.probabilities["3104"] > d.probabilities["5182"] > d.probabilities["A380"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=len(GRADES), max_size=len(GRADES)),
       st.lists(st.floats(0, 1), min_size=len(VISUAL_CLASSES), max_size=len(VISUAL_CLASSES)),
       st.floats(0.2, 1.0), st.booleans())
def test_a_possible_non_metal_never_goes_to_an_aluminium_bin(libs, cam, non_metal, coating):
    libs = np.array(libs) + 1e-6
    cam = np.array(cam) * (1 - non_metal) / max(sum(cam), 1e-9)
    cam[VISUAL_CLASSES.index("non_metal")] = non_metal
    d = fuse(dict(zip(GRADES, libs / libs.sum(), strict=True)), dict(zip(VISUAL_CLASSES, cam, strict=True)),
             reads_coating=coating, aluminium=frozenset(ALUMINIUM))
    assert d.destination != "grade" or d.grade not in ALUMINIUM
    if non_metal >= 0.5:
        assert d.destination == "non_metal"


def test_painted_can_with_coating_read_leans_on_can_grades():
    libs = {"3104": 0.02, "5182": 0.08, "6063": 0.1, "6082": 0.8, "A380": 0.0, "copper": 0.0, "steel": 0.0}
    cam = {"painted_can": 0.9, "bare_wrought": 0.1}
    assert fuse(libs, cam).grade == "6082"                       # the shots read paint: LIBS says 6082
    d = fuse(libs, cam, reads_coating=True)
    assert d.grade == "5182" and d.rule.startswith("painted can")  # the larger can-grade share wins
    assert set(g for g, p in d.probabilities.items() if p > 0) <= CANS


def test_unknown_grade_is_an_input_error():
    from blending.errors import InputError

    with pytest.raises(InputError, match="no visual likelihoods for 9999"):
        fuse({"9999": 1.0}, {"bare_wrought": 1.0})
