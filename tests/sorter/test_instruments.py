"""Instrument profiles: the shipped ones load, programmatic ones are validated."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sorter.instruments import Instrument, get_instrument, instrument_profiles


def test_shipped_profiles_match_the_issue():
    bb, hr = get_instrument("broadband"), get_instrument("highres")
    assert bb.n_pixels == 4096 and bb.wavelength_nm[0] == 200.0 and bb.wavelength_nm[-1] == 900.0
    assert hr.n_pixels == 2048 and 240 <= hr.wavelength_nm[0] and hr.wavelength_nm[-1] <= 420
    assert bb.resolution_fwhm_nm == pytest.approx(0.1) and hr.resolution_fwhm_nm == pytest.approx(0.03)
    assert set(instrument_profiles()) >= {"broadband", "highres"}


def test_calibration_passes_both_ends_and_bows_by_the_curvature():
    inst = Instrument("bow", 300.0, 400.0, 1001, 0.1, calibration_curvature_nm=0.2)
    straight = np.linspace(300.0, 400.0, 1001)
    assert_allclose(inst.wavelength_nm[[0, -1]], [300.0, 400.0])
    assert_allclose(inst.wavelength_nm[500] - straight[500], 0.2, rtol=1e-9)
    assert np.all(np.diff(inst.wavelength_nm) > 0)


def test_response_interpolates_its_knots():
    inst = Instrument("r", 300.0, 400.0, 100, 0.1, response_wavelength_nm=(300.0, 400.0),
                      response_relative=(0.2, 1.0))
    assert_allclose(inst.response([300.0, 350.0, 400.0]), [0.2, 0.6, 1.0])


@pytest.mark.parametrize("kwargs, match", [
    ({"wavelength_max_nm": 300.0}, "empty range"),
    ({"resolution_fwhm_nm": 5.0}, "resolution_fwhm_nm"),
    ({"n_pixels": 4}, "n_pixels"),
    ({"response_relative": (1.0,)}, "equal lengths"),
    ({"read_noise_counts": -1.0}, "read_noise_counts"),
    ({"wavelength_min_nm": 100.0}, "outside"),
])
def test_bad_instruments_are_refused(kwargs, match):
    args = {"name": "x", "wavelength_min_nm": 300.0, "wavelength_max_nm": 400.0, "n_pixels": 100,
            "resolution_fwhm_nm": 0.1} | kwargs
    with pytest.raises(ValueError, match=match):
        Instrument(**args)


def test_unknown_instrument_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown instrument 'x'; known instruments: broadband, highres"):
        get_instrument("x")
