"""Checks every preprocessing transformer passes (pybaselines-style shared test set)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from sorter.preprocess.baseline import SpectrumBaseline
from sorter.preprocess.features import LineWindowFeatures, NoiseLevel
from sorter.preprocess.normalise import TotalEmissionNormaliser
from sorter.preprocess.resample import Resampler

WL = np.linspace(250.0, 300.0, 800)
X = np.random.default_rng(0).uniform(100, 200, size=(6, WL.size))

TRANSFORMERS = [
    Resampler(source_nm=WL, target_nm=np.linspace(251.0, 299.0, 500)),
    SpectrumBaseline(WL, method="snip", half_window_nm=1.0),
    SpectrumBaseline(WL, method="asls", lam=1e5),
    TotalEmissionNormaliser(),
    LineWindowFeatures(WL),
    NoiseLevel(),
]


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=lambda t: type(t).__name__)
def test_input_unchanged_shape_and_names(transformer):
    before = X.copy()
    out = clone(transformer).fit(X).transform(X)
    assert np.array_equal(X, before)
    assert out.shape[0] == X.shape[0]
    assert np.all(np.isfinite(out))
    names = clone(transformer).fit(X).get_feature_names_out()
    assert len(names) == out.shape[1]


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=lambda t: type(t).__name__)
def test_transform_before_fit_is_refused(transformer):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        clone(transformer).transform(X)


def test_transformers_chain_in_a_pipeline():
    pipe = make_pipeline(Resampler(source_nm=WL, target_nm=np.linspace(251.0, 299.0, 500)),
                         LineWindowFeatures(np.linspace(251.0, 299.0, 500)))
    assert pipe.fit(X).transform(X).shape[0] == X.shape[0]


def test_baseline_removes_a_known_smooth_continuum():
    wl = np.linspace(300, 320, 1000)
    continuum = 50 + 2.0 * (wl - 300) + 0.05 * (wl - 310) ** 2
    peak = 400 * np.exp(-0.5 * ((wl - 310) / 0.05) ** 2)
    out = SpectrumBaseline(wl, method="snip", half_window_nm=1.5).fit_transform((continuum + peak)[None])[0]
    far = np.abs(wl - 310) > 1.0
    assert np.max(np.abs(out[far])) < 2.0
    assert abs(out.max() - 400) < 20


def test_resampler_refuses_a_grid_that_does_not_overlap():
    with pytest.raises(ValueError, match="does not overlap"):
        Resampler(source_nm=[100.0, 101.0], target_nm=[300.0, 301.0]).fit()
