"""Planck function, line emission/absorption (Kirchhoff) and the uniform slab."""

import numpy as np
import scipy.constants as sc
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from sorter.physics.boltzmann import level_population
from sorter.physics.radiative_transfer import (
    line_absorption_area,
    line_emissivity,
    planck_radiance,
    slab_radiance,
)


def test_planck_integrates_to_stefan_boltzmann_over_pi():
    T = 10000.0
    lam = np.geomspace(10.0, 1e6, 400001)
    integral = np.trapezoid(planck_radiance(lam, T), lam)
    assert_allclose(integral, sc.Stefan_Boltzmann * T ** 4 / np.pi, rtol=1e-4)


@settings(deadline=None)
@given(st.floats(200, 900), st.floats(5000, 20000), st.floats(0.0, 3.0), st.floats(0.1, 5.0))
def test_thin_slab_is_emissivity_times_length_kirchhoff(lam, T, e_i, gap):
    # in LTE B * k_area == epsilon for every line: the two textbook formulas agree
    g_i, g_k, A = 4, 2, 1e8
    n_i = level_population(1e21, g_i, e_i, 10.0, T)
    n_k = level_population(1e21, g_k, e_i + 1239.841984 / lam, 10.0, T)
    k_area = line_absorption_area(lam, A, g_k, g_i, n_i, T)
    assert_allclose(planck_radiance(lam, T) * k_area, line_emissivity(lam, A, n_k), rtol=1e-6)


def test_slab_reduces_to_thin_and_saturates_at_planck():
    assert_allclose(slab_radiance(2.0, 1e-6), 2e-6, rtol=1e-6)
    assert_allclose(slab_radiance(2.0, 50.0), 2.0)


@settings(deadline=None)
@given(st.floats(0.0, 1.2))
def test_curve_of_growth_of_a_gaussian_line_follows_ladenburg_reiche(tau0):
    from math import factorial, sqrt

    from sorter.physics.radiative_transfer import curve_of_growth

    series = sum((-tau0) ** (n - 1) / (factorial(n) * sqrt(n)) for n in range(1, 40))
    assert_allclose(curve_of_growth(tau0, 0.0), series, rtol=2e-3)


def test_curve_of_growth_falls_with_optical_depth_and_lorentzian_lines_saturate_later():
    from sorter.physics.radiative_transfer import curve_of_growth

    taus = np.linspace(0, 1.2, 13)
    for share in (0.0, 0.5, 1.0):
        f = curve_of_growth(taus, share)
        assert f[0] == 1.0 and np.all(np.diff(f) < 0)
    assert curve_of_growth(1.0, 1.0) > curve_of_growth(1.0, 0.0)
