"""Smoke tests of the simulator's public API: shapes, ground truth, reproducibility, bad input."""

import numpy as np
import pytest

from blending.catalogue.composition import Composition
from blending.catalogue.spec import get_alloy
from sorter.grades import list_grades
from sorter.instruments import Instrument, get_instrument
from sorter.simulate import PlasmaRanges, simulate_batch, simulate_spectrum


def test_batch_has_ground_truth_inside_the_grade_limits():
    batch = simulate_batch(["5182", "6063"], 2, "broadband", seed=3)
    assert batch.intensity.shape == (4, 4096)
    assert list(batch.labels) == ["5182", "5182", "6063", "6063"]
    for i in range(len(batch)):
        comp = {k: v for k, v in batch.composition(i).items() if k != "Al"}
        assert get_alloy(batch.labels[i]).check(Composition(comp)).in_spec
    for key in ("seed", "T_e_K", "n_e_per_cm3", "ablation_scale", "offset_nm"):
        assert batch.meta[key].shape == (4,)
    assert np.all((batch.meta["T_e_K"] >= 8000) & (batch.meta["T_e_K"] <= 14000))


def test_same_seed_same_spectra_and_other_seed_differs():
    a = simulate_batch(["brass"], 1, "highres", seed=5)
    b = simulate_batch(["brass"], 1, "highres", seed=5)
    c = simulate_batch(["brass"], 1, "highres", seed=6)
    np.testing.assert_array_equal(a.intensity, b.intensity)
    assert not np.array_equal(a.intensity, c.intensity)


def test_programmatic_instrument_and_ood_options():
    inst = Instrument("narrow", 380.0, 400.0, 256, 0.08, continuum_scale=3.0)
    batch = simulate_batch(["6063"], 1, inst, seed=1, plasma=PlasmaRanges(T_e_K=(15000, 16000)),
                           noise_scale=2.0, wavelength_offset_nm=(0.04, 0.05))
    assert batch.intensity.shape == (1, 256)
    assert batch.instrument == "narrow"
    assert 0.03 < batch.meta["offset_nm"][0] < 0.06


def test_single_spectrum_reports_its_plasma_state():
    s = simulate_spectrum({"Mg": 2.5}, "highres", np.random.default_rng(0))
    assert s.n_points == get_instrument("highres").n_pixels
    assert 8000 <= float(s.metadata.extra["T_e_K"]) <= 14000


def test_grade_list_covers_catalogue_and_contaminants():
    names = set(list_grades())
    assert {"1050A", "2024", "3003", "3104", "5052", "5182", "5754", "6061", "6063", "6082", "7075",
            "A356.2", "A380"} <= names
    assert {"copper", "brass", "zinc_diecast", "steel", "stainless", "lead"} <= names


@pytest.mark.parametrize("kwargs, match", [
    ({"grades": ["9999"]}, "unknown grade '9999'"),
    ({"n_per_grade": 0}, "must be positive"),
    ({"instrument": "nope"}, "unknown instrument 'nope'"),
])
def test_bad_input_names_the_problem(kwargs, match):
    args = {"grades": ["5182"], "n_per_grade": 1, "instrument": "broadband", "seed": 0} | kwargs
    with pytest.raises((ValueError, KeyError), match=match):
        simulate_batch(**args)


def test_empty_range_is_refused():
    with pytest.raises(ValueError, match="empty range"):
        Instrument("bad", 400.0, 400.0, 100, 0.1)
