import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sorter.preprocess.grid import interpolation_indices, pixel_edges, resample, window_weights


def grids():
    return st.builds(lambda start, steps: start + np.cumsum(np.asarray(steps)),
                     st.floats(200, 800), st.lists(st.floats(0.01, 0.3), min_size=20, max_size=200))


@settings(max_examples=60, deadline=None)
@given(grids(), st.floats(0.05, 0.9), st.floats(0.05, 0.9))
def test_window_weights_sum_to_the_window_length(wl, a, b):
    lo, hi = sorted((wl[0] + a * (wl[-1] - wl[0]), wl[0] + b * (wl[-1] - wl[0])))
    assert_allclose(window_weights(wl, lo, hi).sum(), hi - lo, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(grids())
def test_integral_of_a_piecewise_constant_spectrum(wl):
    edges = pixel_edges(wl)
    x = np.sin(wl)
    lo, hi = edges[3] + 0.3 * (edges[4] - edges[3]), edges[-5]
    # the window starts 30% into pixel 3 and ends on the edge of the 5th-last pixel
    expected = 0.7 * (edges[4] - edges[3]) * x[3] + np.sum(x[4:-4] * np.diff(edges)[4:-4])
    assert_allclose(x @ window_weights(wl, lo, hi), expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(grids(), st.floats(-3, 3), st.floats(-100, 100))
def test_resampling_a_straight_line_is_exact(wl, slope, intercept):
    target = np.linspace(wl[0], wl[-1], 57)
    assert_allclose(resample(wl, slope * wl + intercept, target), slope * target + intercept, rtol=1e-9, atol=1e-7)


def test_points_beyond_the_source_take_the_edge_value():
    src = np.array([300.0, 301.0, 302.0])
    index, fraction = interpolation_indices(src, np.array([299.0, 303.0]))
    assert_allclose(resample(src, np.array([5.0, 6.0, 7.0]), np.array([299.0, 303.0])), [5.0, 7.0])
    assert index.min() >= 0 and index.max() <= 1 and fraction.min() >= 0 and fraction.max() <= 1
