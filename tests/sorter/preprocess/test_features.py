import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import erf

from sorter.preprocess.features import LineWindowFeatures, NoiseLevel
from sorter.preprocess.grid import pixel_edges
from sorter.preprocess.lines import FeatureLine, feature_lines

LINES = (
    FeatureLine("Al_ref", "Al", 1, 308.0, 308.0, "reference"),
    FeatureLine("Mg_a", "Mg", 1, 310.0, 310.0, "analyte"),
    FeatureLine("Cu_a", "Cu", 1, 312.0, 312.0, "analyte"),
)


def gaussian(wl, centre, area, fwhm):
    s = fwhm / 2.3548
    return area / (s * np.sqrt(2 * np.pi)) * np.exp(-0.5 * ((wl - centre) / s) ** 2)


def pixel_counts(wl, centre, area, fwhm):
    """A Gaussian line integrated over each pixel (as a detector does), analytic via erf."""
    edges = pixel_edges(wl)
    s = fwhm / 2.3548
    cdf = 0.5 * (1 + erf((edges - centre) / (s * np.sqrt(2))))
    return area * np.diff(cdf)


@pytest.mark.parametrize("fwhm", [0.03, 0.05, 0.1, 0.15])
@pytest.mark.parametrize("offset", [-0.05, 0.0, 0.05])
@pytest.mark.parametrize("step", [0.02, 0.05])
def test_line_area_does_not_depend_on_resolution_offset_or_continuum(fwhm, offset, step):
    """A Gaussian of known area A on a sloping continuum integrates to A, per pixel width."""
    wl = np.arange(305.0, 315.0, step)
    areas = {"Al_ref": 50.0, "Mg_a": 7.0, "Cu_a": 2.0}
    x = 100.0 + 3.0 * (wl - 305.0)
    for line in LINES:
        # counts per pixel = density x pixel width
        x = x + pixel_counts(wl, line.first_nm + offset, areas[line.name], fwhm)
    f = LineWindowFeatures(wl, LINES, half_width_nm=0.3, background_nm=0.2).fit()
    got = f.areas(x[None, :])[0] / step
    assert_allclose(got, [areas[w.line.name] for w in f.windows_], rtol=0.03)


def test_ratios_ignore_the_ablated_mass_and_a_linear_continuum():
    wl = np.arange(305.0, 315.0, 0.05)
    lines = sum(gaussian(wl, line.first_nm, a, 0.1) for line, a in zip(LINES, (50, 7, 2), strict=True))
    f = LineWindowFeatures(wl, LINES, half_width_nm=0.3).fit()
    base = f.transform(lines[None, :])
    brighter = f.transform((3.7 * lines + 40.0 - 2.0 * (wl - 305))[None, :])
    assert_allclose(brighter, base, rtol=1e-9, atol=1e-9)


def test_feature_values_follow_the_documented_formula():
    wl = np.arange(305.0, 315.0, 0.05)
    x = sum(gaussian(wl, line.first_nm, a, 0.1) for line, a in zip(LINES, (50, 7, 2), strict=True))
    f = LineWindowFeatures(wl, LINES, half_width_nm=0.3, floor=1e-2, soft=1e-3).fit()
    A = f.areas(x[None, :])[0]
    total = A.sum()
    d_ref = np.hypot(A[0], 1e-3 * total)
    expected = [np.arcsinh(A[1] / d_ref / 1e-2), np.arcsinh(A[2] / d_ref / 1e-2),
                np.arcsinh(A[1] / total / 1e-2), np.arcsinh(A[2] / total / 1e-2), np.arcsinh(A[0] / total / 1e-2)]
    assert_allclose(f.transform(x[None, :])[0], expected, rtol=1e-9)
    assert list(f.get_feature_names_out()) == ["Mg_a/Al_ref", "Cu_a/Al_ref", "Mg_a/total", "Cu_a/total",
                                               "Al_ref/total"]


def test_a_piece_without_aluminium_gives_finite_features():
    wl = np.arange(305.0, 315.0, 0.05)
    x = gaussian(wl, 312.0, 80.0, 0.1)  # copper only
    out = LineWindowFeatures(wl, LINES).fit().transform(x[None, :])
    assert np.all(np.isfinite(out))


def test_lines_outside_the_grid_are_dropped_and_no_reference_is_an_error():
    wl = np.arange(309.0, 315.0, 0.05)
    with pytest.raises(ValueError, match="no Al reference line lies inside the grid"):
        LineWindowFeatures(wl, LINES).fit()


def test_packaged_lines_have_an_al_reference_in_each_shipped_range():
    for lo, hi in ((200, 900), (240, 420)):
        f = LineWindowFeatures(np.linspace(lo, hi, 4096)).fit()
        assert f.references_.size >= 2 and f.analytes_.size > 30
        assert {w.line.element for w in f.windows_} >= {"Si", "Fe", "Cu", "Mn", "Mg", "Cr", "Ni", "Zn", "Ti", "Pb",
                                                        "Sn", "Li"}
    assert all(line.source for line in feature_lines())


def test_wrong_width_input_names_the_expected_shape():
    f = LineWindowFeatures(np.arange(305.0, 315.0, 0.05), LINES).fit()
    with pytest.raises(ValueError, match=r"expected spectra of shape \(n, 200\)"):
        f.transform(np.ones((1, 10)))


def test_noise_level_recovers_a_known_sigma_on_a_spectrum_with_lines():
    rng = np.random.default_rng(3)
    wl = np.arange(305.0, 315.0, 0.02)
    clean = 200 + sum(gaussian(wl, c, 300.0, 0.08) for c in (306, 308, 310, 312, 314))
    X = clean + rng.normal(0, 5.0, size=(200, wl.size))
    sigma = NoiseLevel(n_pixels=64).fit(X).transform(X)[:, 0]
    assert abs(sigma.mean() - 5.0) < 0.15


def test_ion_stage_of_each_feature_is_its_numerator_line():
    wl = np.linspace(250.0, 420.0, 4000)
    f = LineWindowFeatures(wl).fit()
    by_name = {line.name: line.ion_stage for line in feature_lines()}
    names = f.get_feature_names_out()
    stages = f.feature_ion_stages()
    assert len(stages) == names.size
    for name, stage in zip(names, stages, strict=True):
        assert stage == by_name[name.split("/")[0]]  # the thermometer's numerator is an Al II line


def _undersampled_with_neighbour(offset_nm: float, neighbour_area: float):
    """A 0.17 nm pixel grid (the broadband CCD's) under 0.1 nm lines, with a strong neighbour
    0.45 nm left of the Mg analyte: inside the analyte's default left background band."""
    wl = np.arange(305.0, 315.0, 0.171)
    x = 100.0 + 3.0 * (wl - 305.0)
    for centre, area in ((308.0, 50.0), (310.0, 7.0), (312.0, 2.0), (309.55, neighbour_area)):
        x = x + pixel_counts(wl, centre + offset_nm, area, 0.1)
    return wl, x


def test_band_search_moves_background_bands_off_a_neighbouring_line():
    """Areas from bands next to the window count the neighbour as background; searched bands do not."""
    step = 0.171
    wl, _ = _undersampled_with_neighbour(0.0, 40.0)
    train = np.stack([_undersampled_with_neighbour(o, a)[1] for o in (-0.02, 0.0, 0.02) for a in (20.0, 40.0, 80.0)])
    searched = LineWindowFeatures(wl, LINES, band_search_nm=1.0).fit(train)
    adjacent = LineWindowFeatures(wl, LINES, band_search_nm=0.0).fit(train)
    mg = [w.line.name for w in searched.windows_].index("Mg_a")
    (left_lo, left_hi), _ = searched.windows_[mg].bands
    assert left_hi < 309.55 - 0.15 or left_lo > 309.55 + 0.15     # the band keeps clear of the neighbour's core
    for offset in (-0.05, 0.0, 0.05):
        x = _undersampled_with_neighbour(offset, 40.0)[1][None, :]
        assert searched.areas(x)[0, mg] / step == pytest.approx(7.0, rel=0.05)
        assert abs(adjacent.areas(x)[0, mg] / step - 7.0) > 0.5     # why the search exists


def test_band_search_keeps_bands_next_to_isolated_lines():
    wl = np.arange(305.0, 315.0, 0.05)
    clean = sum(gaussian(wl, line.first_nm, a, 0.1) for line, a in zip(LINES, (50, 7, 2), strict=True))
    X = np.stack([100.0 + s * clean for s in (0.5, 1.0, 2.0)])
    f = LineWindowFeatures(wl, LINES, half_width_nm=0.3, band_search_nm=1.0).fit(X)
    assert all(w.left_gap_nm == 0.0 and w.right_gap_nm == 0.0 for w in f.windows_)


def test_indicator_lines_are_features_like_analytes_but_flagged():
    """An Al resonance line as an "indicator": the same two ratio features as an analyte line, flagged."""
    from dataclasses import replace

    wl = np.linspace(250.0, 420.0, 4000)
    indicators = tuple(line for line in feature_lines() if line.is_indicator)
    assert len(indicators) == 4 and all(line.element == "Al" for line in indicators)
    others = tuple(line for line in feature_lines() if not line.is_indicator)
    as_analytes = tuple(replace(line, role="analyte") for line in indicators)
    rng = np.random.default_rng(3)
    X = 100.0 + rng.normal(0, 1.0, (5, wl.size))
    for c in (256.8, 266.04, 281.62, 308.215, 309.27, 358.7, 394.4, 396.15):
        X = X + 300.0 * np.exp(-0.5 * ((wl - c) / 0.05) ** 2)
    f = LineWindowFeatures(wl, others + indicators, band_search_nm=0.0).fit()
    g = LineWindowFeatures(wl, others + as_analytes, band_search_nm=0.0).fit()
    np.testing.assert_allclose(f.transform(X), g.transform(X))
    flagged = f.get_feature_names_out()[f.indicator_features()]
    assert sorted(n.split("/")[0] for n in flagged) == sorted([line.name for line in indicators] * 2)
    assert not g.indicator_features().any()


def test_a_line_file_needs_a_reference_and_known_roles(tmp_path):
    import pytest

    from sorter.preprocess.lines import COLUMNS

    path = tmp_path / "lines.csv"
    path.write_text(",".join(COLUMNS) + "\nAl_I_396.15,Al,1,396.152,396.152,indicator,test\n")
    with pytest.raises(Exception, match="no reference line"):
        feature_lines(path)
    path.write_text(",".join(COLUMNS) + "\nAl_I_266.04,Al,1,266.039,266.039,reference,test\n"
                    "Al_I_396.15,Al,1,396.152,396.152,monitor,test\n")
    with pytest.raises(Exception, match="row 3.*role.*monitor"):
        feature_lines(path)


def _lorentz_counts(wl, centre, area, fwhm):
    """A Lorentzian (Stark-broadened) line integrated over each pixel, analytic via arctan."""
    edges = pixel_edges(wl)
    cdf = 0.5 + np.arctan((edges - centre) / (0.5 * fwhm)) / np.pi
    return area * np.diff(cdf)


def _shifted_spectrum(wl, offset, profile, fwhm, scale=1.0):
    x = 100.0 + 3.0 * (wl - 305.0)
    for line, a in zip(LINES, (50.0, 7.0, 2.0), strict=True):
        x = x + scale * profile(wl, line.first_nm + offset, a, fwhm)
    return x


def test_offset_correction_is_off_by_default_and_changes_nothing():
    wl = np.arange(305.0, 315.0, 0.05)
    X = np.stack([_shifted_spectrum(wl, o, pixel_counts, 0.1) for o in (-0.03, 0.0, 0.04)])
    plain = LineWindowFeatures(wl, LINES).fit(X)
    assert plain.shift_weights_ is None
    assert_allclose(plain.shift_nm(X), 0.0)
    off = LineWindowFeatures(wl, LINES, max_shift_nm=0.0).fit(X)
    assert_allclose(off.transform(X), plain.transform(X), rtol=0, atol=0)


@pytest.mark.parametrize("step", [0.02, 0.05])
@pytest.mark.parametrize("offset", [-0.08, -0.05, -0.02, 0.0, 0.03, 0.05, 0.08])
def test_offset_estimate_recovers_a_known_wavelength_offset(step, offset):
    """The aluminium line's centroid against the training spectra's, on pixel-integrated Gaussians."""
    wl = np.arange(305.0, 315.0, step)
    train = np.stack([_shifted_spectrum(wl, o, pixel_counts, 0.1, s) for o in (-0.02, 0.0, 0.02) for s in (0.5, 2.0)])
    f = LineWindowFeatures(wl, LINES, half_width_nm=0.3, max_shift_nm=0.1).fit(train)
    got = f.shift_nm(_shifted_spectrum(wl, offset, pixel_counts, 0.1)[None, :])[0]
    assert got == pytest.approx(offset, abs=0.1 * step)


def test_offset_estimate_is_clipped_where_there_is_no_aluminium():
    wl = np.arange(305.0, 315.0, 0.05)
    f = LineWindowFeatures(wl, LINES, max_shift_nm=0.07).fit()
    rng = np.random.default_rng(3)
    X = 100.0 + rng.normal(0.0, 5.0, (50, wl.size))          # no lines at all: the centroid is noise
    s = f.shift_nm(X)
    assert np.all(np.abs(s) <= 0.07) and np.all(np.isfinite(f.transform(X)))


@pytest.mark.parametrize("offset", [-0.05, 0.05])
def test_offset_correction_restores_the_areas_of_stark_broadened_lines(offset):
    """Lorentzian wings cross the window edges, so an offset moves area into the bands; moving
    the windows with the estimated offset gives back the areas of the unshifted spectrum."""
    wl = np.arange(305.0, 315.0, 0.03)
    train = np.stack([_shifted_spectrum(wl, o, _lorentz_counts, 0.3, s)
                      for o in (-0.02, 0.0, 0.02) for s in (0.5, 2.0)])
    plain = LineWindowFeatures(wl, LINES, half_width_nm=0.25, background_nm=0.2, band_search_nm=0.0).fit(train)
    moved = LineWindowFeatures(wl, LINES, half_width_nm=0.25, background_nm=0.2, band_search_nm=0.0,
                               max_shift_nm=0.1).fit(train)
    x0 = _shifted_spectrum(wl, 0.0, _lorentz_counts, 0.3)[None, :]
    xs = _shifted_spectrum(wl, offset, _lorentz_counts, 0.3)[None, :]
    # the reference: the uncorrected windows themselves moved by the true offset (area_weights of shifted windows)
    from sorter.preprocess.features import area_weights, shifted_window
    exact = np.array([xs[0] @ area_weights(wl, shifted_window(w, offset)) for w in plain.windows_])
    assert_allclose(exact, plain.areas(x0)[0], rtol=2e-3)
    err_plain = np.abs(plain.areas(xs)[0] - plain.areas(x0)[0])
    err_moved = np.abs(moved.areas(xs)[0] - moved.areas(x0)[0])
    assert np.all(err_moved < 0.25 * err_plain)
    assert_allclose(moved.areas(xs)[0], exact, rtol=5e-3)


def test_a_negative_max_shift_is_refused_by_name():
    with pytest.raises(ValueError, match="max_shift_nm"):
        LineWindowFeatures(np.arange(305.0, 315.0, 0.05), LINES, max_shift_nm=-0.1).fit()
