"""Physics acceptance tests of the simulator: what real LIBS spectra do, the simulated ones must do.

Each test measures a simulated spectrum the way a spectroscopist would (integrated line areas,
Boltzmann plots, profile fits, peak centres) and compares with an independent expectation.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import curve_fit
from scipy.special import erf

from sorter.atomic_data import line_list
from sorter.fast_synthesis import plasma_radiance_batch
from sorter.instruments import Instrument, get_instrument
from sorter.physics.constants import K_B_EV
from sorter.physics.line_profiles import doppler_fwhm, gaussian_fwhm_sum, voigt
from sorter.plasma import PlasmaState
from sorter.simulate import (
    PlasmaRanges,
    ShotConditions,
    gate_states,
    plasma_radiance,
    shot_radiance,
    simulate_batch,
)

FINE_STEP_NM = 0.002
THIN_SLAB_M = 1e-8


def _area(wl, rad, centre, half):
    sel = (wl >= centre - half) & (wl <= centre + half)
    return np.trapezoid(rad[sel], wl[sel])


def _single_state_radiance(comp, T, ne, wl, *, resolution=0.005, slab=THIN_SLAB_M):
    return plasma_radiance(comp, [PlasmaState(T, ne)], wl, resolution_fwhm_nm=resolution,
                           slab_length_m=slab, continuum_scale=0.0)


def test_boltzmann_plot_of_fe_lines_recovers_the_temperature():
    T_set, ne = 11000.0, 1e16
    wl = np.arange(240.0, 460.0, FINE_STEP_NM)
    rad = _single_state_radiance({"Fe": 100.0, "Al": 0.0}, T_set, ne, wl)
    ll = line_list()
    fe = np.flatnonzero((ll.element == "Fe") & (ll.ion_stage == 1) & (ll.wavelength_nm > 241)
                        & (ll.wavelength_nm < 459))
    isolated = [i for i in fe if np.sort(np.abs(ll.wavelength_nm - ll.wavelength_nm[i]))[1] > 0.12]
    assert len(isolated) >= 6
    e_k = ll.E_k_eV[isolated]
    assert e_k.max() - e_k.min() > 1.0  # enough spread for a Boltzmann plot
    areas = np.array([_area(wl, rad, ll.wavelength_nm[i], 0.05) for i in isolated])
    y = np.log(areas * ll.wavelength_nm[isolated] / (ll.g_k[isolated] * ll.A_ki_per_s[isolated]))
    slope = np.polyfit(e_k, y, 1)[0]
    T_fit = -1.0 / (K_B_EV * slope)
    assert abs(T_fit - T_set) / T_set < 0.05


def _mg_al_ratios(mg_values, mg_line, mg_half):
    mg_grid = np.arange(mg_line - 1.5, mg_line + 1.5, FINE_STEP_NM)
    al_grid = np.arange(280.6, 282.6, FINE_STEP_NM)
    out = []
    for mg in mg_values:
        mg_rad = _single_state_radiance({"Mg": mg}, 10000.0, 1e17, mg_grid, slab=5e-4)
        al_rad = _single_state_radiance({"Mg": mg}, 10000.0, 1e17, al_grid, slab=5e-4)
        out.append(_area(mg_grid, mg_rad, mg_line, mg_half) / _area(al_grid, al_rad, 281.6175, 0.3))
    return np.array(out)


def test_thin_mg_line_ratio_is_linear_in_mg_content():
    mg = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.7])
    ratio = _mg_al_ratios(mg, 516.7322, 0.25)
    slope, intercept = np.polyfit(mg, ratio, 1)
    r2 = 1 - np.sum((ratio - (slope * mg + intercept)) ** 2) / np.sum((ratio - ratio.mean()) ** 2)
    assert r2 > 0.999
    assert abs(intercept) < 0.02 * ratio.max()


def test_resonance_line_ratio_bends_with_self_absorption():
    mg = np.array([0.5, 1.0, 2.0, 5.0, 10.0])
    thin = _mg_al_ratios(mg, 516.7322, 0.25)
    resonance = _mg_al_ratios(mg, 279.5528, 0.06)
    # the weak line keeps within 10% of proportionality, the resonance line falls far below it
    assert thin[-1] / thin[0] > 0.9 * mg[-1] / mg[0]
    assert resonance[-1] / resonance[0] < 0.5 * mg[-1] / mg[0]
    assert np.all(np.diff(resonance / mg) < 0)  # ever more sublinear


def test_al_doublet_ratio_falls_from_its_thin_value_towards_one():
    wl = np.arange(392.0, 398.5, FINE_STEP_NM)
    ll = line_list()
    i396, i394 = (int(np.argmin(np.abs(ll.wavelength_nm - lam))) for lam in (396.152, 394.4006))
    # thin limit by hand: same upper level, so I396/I394 = (A396 / lambda396) / (A394 / lambda394)
    thin_expected = (ll.A_ki_per_s[i396] / ll.wavelength_nm[i396]) / (ll.A_ki_per_s[i394] / ll.wavelength_nm[i394])
    ratios = []
    for slab in (1e-9, 1e-5, 1e-4, 1e-3, 1e-2):
        rad = _single_state_radiance({}, 10000.0, 1e17, wl, slab=slab)
        ratios.append(_area(wl, rad, 396.152, 0.6) / _area(wl, rad, 394.4006, 0.6))
    assert_allclose(ratios[0], thin_expected, rtol=0.01)
    assert 1.9 < ratios[0] < 2.0
    assert np.all(np.diff(ratios) < 0)
    assert ratios[-1] < 1.3


def _lorentz_fit(wl, rad, centre, gauss):
    def model(x, area, c, lor, base):
        return area * voigt(x, c, gauss, lor) + base

    sel = np.abs(wl - centre) < 0.4
    p0 = [np.trapezoid(rad[sel], wl[sel]), centre, 0.02, 0.0]
    popt, _ = curve_fit(model, wl[sel], rad[sel], p0=p0, bounds=([0, centre - 0.05, 0, -np.inf],
                                                                  [np.inf, centre + 0.05, 2.0, np.inf]))
    return popt[2]


def test_lorentzian_width_grows_linearly_with_electron_density():
    ll = line_list()
    i = int(np.argmin(np.abs(ll.wavelength_nm - 281.6175)))  # Al II 281.62, thin and isolated
    wl = np.arange(280.5, 282.7, 0.001)
    resolution = 0.003
    gauss = gaussian_fwhm_sum(resolution, doppler_fwhm(ll.wavelength_nm[i], 10000.0, ll.mass_u[i]))
    ne = np.array([3e16, 1e17, 2e17, 4e17])
    widths = []
    for n in ne:
        rad = _single_state_radiance({}, 10000.0, n, wl, resolution=resolution)
        widths.append(_lorentz_fit(wl, rad, ll.wavelength_nm[i], gauss))
    widths = np.array(widths)
    slope, intercept = np.polyfit(ne, widths, 1)
    assert_allclose(slope, ll.stark_fwhm_nm[i] / 1e17, rtol=0.05)
    assert abs(intercept) < 0.1 * widths.min()


def _fit_pixel_gaussian(x, y):
    """Centre of a Gaussian line integrated over pixels of width dx, on a flat baseline (least squares)."""
    dx = np.gradient(x)

    def model(xx, area, c, sigma, base):
        s = sigma * np.sqrt(2.0)
        return area * (erf((xx + dx / 2 - c) / s) - erf((xx - dx / 2 - c) / s)) / (2 * dx) + base

    p0 = [(y - y.min()).sum() * dx.mean(), x[len(x) // 2], dx.mean(), y.min()]
    popt, _ = curve_fit(model, x, y, p0=p0)
    return popt[1]


@pytest.mark.filterwarnings("ignore:Covariance of the parameters could not be estimated")
@pytest.mark.parametrize("instrument", ["broadband", "highres"])
def test_peaks_sit_at_nist_air_wavelengths_plus_the_offset(instrument):
    plasma = PlasmaRanges(T_e_K=(10000.0, 10500.0), n_e_per_cm3=(4e16, 6e16))  # below ADC saturation
    batch = simulate_batch(["6063", "5182"], 1, instrument, seed=11, noise_scale=0.0, wavelength_offset_nm=0.03,
                           plasma=plasma)
    inst = get_instrument(instrument)
    wl = batch.wavelength_nm
    checked = 0
    for k in range(len(batch)):
        y = batch.intensity[k]
        offset = batch.meta["offset_nm"][k]
        assert abs(offset - 0.03) < 0.02
        for lam in (281.6175, 285.2127, 288.1579, 394.4006, 396.1520, 518.3604):
            if not wl[0] + 1 < lam < wl[-1] - 1:
                continue
            j = int(np.argmax(np.where(np.abs(wl - lam - offset) < 0.3, y, -np.inf)))
            assert y[j] < inst.adc_max_counts - 1  # a saturated peak has no defined centre
            centre = _fit_pixel_gaussian(wl[j - 3:j + 4], y[j - 3:j + 4])
            assert abs(centre - lam - offset) < 0.02, (lam, centre)
            checked += 1
    assert checked >= 6


@pytest.mark.parametrize("ne", [2e16, 1e17, 6e17])
def test_batch_path_agrees_with_the_line_by_line_reference(ne):
    inst = get_instrument("broadband")
    plasma = PlasmaRanges(gate_spread=0.12)
    comp = {"Mg": 4.5, "Mn": 0.35, "Fe": 0.25, "Si": 0.12, "Cu": 0.05}
    shot = ShotConditions(10500.0, ne, 1.0, 0.03, 0.0)
    fast, _ = plasma_radiance_batch([comp], [shot], inst, plasma)
    # the batch path gives every gate state the gate-averaged Stark width; compare like with like
    exact = shot_radiance(comp, inst, shot, plasma)
    l1 = np.abs(fast[0] - exact).sum() / exact.sum()
    assert l1 < 0.05
    assert len(gate_states(10500.0, ne, 0.12)) == 3


def test_programmatic_instrument_grid_resolution_and_response_take_effect():
    narrow = Instrument("narrow", 390.0, 400.0, 1000, 0.03, response_wavelength_nm=(390.0, 400.0),
                        response_relative=(1.0, 0.5))
    wide = narrow.with_changes(name="wide", resolution_fwhm_nm=0.3)
    a = simulate_batch(["6063"], 1, narrow, seed=4, noise_scale=0.0)
    b = simulate_batch(["6063"], 1, wide, seed=4, noise_scale=0.0)
    assert a.intensity.shape == (1, 1000)
    # same light, wider instrument profile: lower, broader peaks with (nearly) the same area
    assert a.intensity.max() - narrow.dark_counts > 1.5 * (b.intensity.max() - wide.dark_counts)
    area_a = (a.intensity - narrow.dark_counts).sum()
    area_b = (b.intensity - wide.dark_counts).sum()
    assert_allclose(area_a, area_b, rtol=0.05)


@pytest.mark.parametrize("noise_scale", [1.0, 0.0])
def test_pieces_averaged_while_synthesising_equal_the_mean_of_every_shot(noise_scale):
    # chunks of 5 shots, pieces of 3 with the first a cleaning shot: pieces straddle the chunks
    from sorter.fast_synthesis import synthesise_counts
    from sorter.simulate import draw_shots

    inst, plasma = get_instrument("highres"), PlasmaRanges()
    comps = [{"Al": 95.5, "Mg": 4.5}, {"Al": 98.0, "Si": 1.0, "Mg": 1.0}] * 6
    shots = draw_shots(np.random.default_rng(1), inst, plasma, len(comps))
    keep = np.array([False, True, True])
    every, off = synthesise_counts(comps, shots, inst, plasma, np.random.default_rng(2), noise_scale=noise_scale,
                                   chunk=5)
    pieces, off_avg = synthesise_counts(comps, shots, inst, plasma, np.random.default_rng(2),
                                        noise_scale=noise_scale, chunk=5, average=keep)
    expected = every.reshape(4, 3, -1)[:, keep].mean(axis=1)
    assert pieces.shape == (4, inst.n_pixels)
    assert_allclose(off_avg, off)
    if noise_scale:  # noisy counts are whole numbers: the sums are exact in any order
        assert np.array_equal(pieces, expected)
    else:
        assert_allclose(pieces, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="not whole pieces of 5"):
        synthesise_counts(comps, shots, inst, plasma, np.random.default_rng(2), average=np.ones(5, dtype=bool))
