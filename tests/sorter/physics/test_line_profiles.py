"""Line shapes: normalisation, widths and the Stark and Doppler scalings."""

import numpy as np
import scipy.constants as sc
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sorter.physics.line_profiles import (
    doppler_fwhm,
    fine_grid,
    lorentz_kept_fraction,
    pixel_gaussian_kernel,
    stark_fwhm,
    voigt,
    voigt_fwhm,
)


def _numerical_fwhm(x, y):
    half = y.max() / 2
    above = np.flatnonzero(y >= half)
    i, j = above[0], above[-1]
    left = np.interp(half, [y[i - 1], y[i]], [x[i - 1], x[i]])
    right = np.interp(half, [y[j + 1], y[j]], [x[j + 1], x[j]])
    return right - left


@settings(deadline=None, max_examples=30)
@given(st.floats(0.01, 0.3), st.floats(0.0, 0.3))
def test_voigt_is_normalised_and_its_fwhm_follows_olivero(gauss, lorentz):
    x = np.linspace(-60, 60, 240001)
    y = voigt(x, 0.0, gauss, lorentz)
    tail = lorentz / (np.pi * 60)   # Lorentzian area beyond +-60 nm: 1 - (2/pi) arctan(120/L)
    assert_allclose(np.trapezoid(y, x), 1.0 - tail, atol=2e-4)
    assert_allclose(_numerical_fwhm(x, y), voigt_fwhm(gauss, lorentz), rtol=3e-3)


def test_doppler_width_of_aluminium_at_10000_K_by_hand():
    # lambda sqrt(8 k T ln2 / (m c^2)) = 0.0055 nm at 396 nm (the PRIMER's "about 0.003 nm" is low by ~2x)
    m = 26.9815 * sc.atomic_mass
    expected = 396.15 * np.sqrt(8 * sc.k * 1e4 * np.log(2) / (m * sc.c ** 2))
    assert_allclose(doppler_fwhm(396.15, 1e4, 26.9815), expected, rtol=1e-6)
    assert_allclose(expected, 0.0055, rtol=0.02)


@settings(deadline=None)
@given(st.floats(1e15, 1e19), st.floats(1.1, 10.0))
def test_stark_width_is_linear_in_electron_density(ne, factor):
    assert_allclose(stark_fwhm(0.05, ne * factor) / stark_fwhm(0.05, ne), factor, rtol=1e-12)
    assert_allclose(stark_fwhm(0.05, 1e17), 0.05)


@settings(deadline=None)
@given(st.floats(0.01, 0.5), st.floats(0.02, 0.5))
def test_pixel_kernel_integrates_to_one(fwhm, width):
    x = np.linspace(-5, 5, 200001)
    assert_allclose(np.trapezoid(pixel_gaussian_kernel(x, fwhm, width), x), 1.0, rtol=1e-5)


def test_lorentz_kept_fraction_matches_the_integral():
    x = np.linspace(-0.5, 0.5, 200001)
    y = voigt(x, 0.0, 1e-9, 0.1)
    assert_allclose(np.trapezoid(y, x), lorentz_kept_fraction(0.1, 0.5), rtol=1e-4)


def test_fine_grid_is_symmetric_and_bounded():
    x = fine_grid(0.001, 2.0, 0.05, fine_until=0.5)
    assert_allclose(x, -x[::-1])
    assert x.max() == 2.0 and np.all(np.diff(x) > 0)
    assert np.diff(x)[np.abs(x[1:]) <= 0.5].max() <= 0.05 + 1e-12
