"""Kramers continuum scalings and the detector: Poisson noise, gain, saturation, calibration."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from sorter.physics.continuum import kramers_continuum
from sorter.physics.detector import count_variance, pixel_wavelengths, read_out


def test_free_free_matches_textbook_bremsstrahlung():
    # Rybicki & Lightman 5.14b: 4 pi j_nu = 6.8e-38 Z^2 n_e n_i T^-1/2 exp(-h nu/kT) g [erg s^-1 cm^-3 Hz^-1]
    lam_nm, T, ne = 500.0, 10000.0, 1e23
    nu = 2.99792458e8 / (lam_nm * 1e-9)
    x = np.exp(-6.62607015e-34 * nu / (1.380649e-23 * T))
    j_nu_cgs = 6.8e-38 * (ne * 1e-6) ** 2 * T ** -0.5 * x / (4 * np.pi)
    j_lambda_si_per_nm = j_nu_cgs * 1e-7 * 1e6 * nu / (lam_nm * 1e-9) * 1e-9
    assert_allclose(kramers_continuum(lam_nm, T, ne, ne, biberman_fb=0.0), j_lambda_si_per_nm, rtol=0.02)


def test_continuum_scales_with_densities_and_rises_to_the_blue():
    base = kramers_continuum([300.0, 600.0], 10000.0, 1e23, 1e23)
    assert_allclose(kramers_continuum([300.0, 600.0], 10000.0, 2e23, 1e23), 2 * base)
    assert base[0] > base[1]


@pytest.mark.parametrize("mean", [3.0, 40.0, 2500.0])
def test_shot_noise_variance_equals_the_mean(mean):
    rng = np.random.default_rng(1)
    counts = read_out(np.full(200_000, mean), rng, gain=1.0, read_noise=0.0, dark=0.0)
    n = counts.size
    # (n-1) s^2 / sigma^2 is chi-square with n-1 degrees of freedom for Poisson sigma^2 = mean
    chi2 = (n - 1) * counts.var(ddof=1) / mean
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], n - 1)
    # skewness makes the variance of s^2 a little larger than the chi-square's for small means
    slack = 1 + 3 / np.sqrt(mean * n)
    assert lo / slack < chi2 < hi * slack
    assert_allclose(counts.mean(), mean, rtol=5 / np.sqrt(mean * n))


def test_gain_scales_variance_and_read_noise_adds():
    rng = np.random.default_rng(2)
    counts = read_out(np.full(200_000, 1000.0), rng, gain=2.0, read_noise=10.0, dark=500.0)
    assert_allclose(counts.mean(), 2500.0, rtol=1e-3)
    assert_allclose(counts.var(), 2.0 ** 2 * 1000 + 100, rtol=0.02)


@pytest.mark.parametrize("noise_scale", [1.0, 1.6])
def test_count_variance_is_what_both_read_outs_draw(noise_scale):
    from sorter.fast_synthesis import read_out_fast
    from sorter.instruments import get_instrument

    inst = get_instrument("broadband")
    electrons = np.array([0.0, 30.0, 800.0, 20000.0])
    want = count_variance(electrons, gain=inst.gain_counts_per_e, read_noise=inst.read_noise_counts,
                          noise_scale=noise_scale)
    n = 100_000
    slow = read_out(np.tile(electrons, (n, 1)), np.random.default_rng(3), gain=inst.gain_counts_per_e,
                    read_noise=inst.read_noise_counts, dark=inst.dark_counts, noise_scale=noise_scale)
    fast = read_out_fast(np.tile(electrons, (n, 1)), np.random.default_rng(4), inst, noise_scale)
    for counts in (slow, fast):
        # integer rounding adds 1/12 count^2, which count_variance leaves out
        assert_allclose(counts.var(axis=0) - 1 / 12, want, rtol=0.03, atol=0.02)


def test_saturation_clips_at_the_adc_maximum():
    counts = read_out(np.array([1e9, 10.0]), np.random.default_rng(0), adc_max=65535.0)
    assert counts[0] == 65535.0 and counts[1] < 100


def test_negative_expected_counts_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        read_out(np.array([-1.0]), np.random.default_rng(0))


def test_calibration_polynomial_and_offset():
    wl = pixel_wavelengths(5, [200.0, 0.5, 0.001], offset_nm=0.02)
    p = np.arange(5)
    assert_allclose(wl, 200.0 + 0.5 * p + 0.001 * p ** 2 + 0.02)
