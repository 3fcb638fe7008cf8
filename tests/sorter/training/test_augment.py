"""Noisy, shifted copies of training spectra (sorter.training.augment)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorter.preprocess.features import NoiseLevel
from sorter.training.augment import Augmentation, augment_spectra, shifted, with_copies
from tests.support.libs_fixtures import GRID


def _line(wl, centre_nm, sigma_nm, height=1000.0):
    return height * np.exp(-0.5 * ((wl - centre_nm) / sigma_nm) ** 2)


@settings(max_examples=60, deadline=None)
@given(shift=st.floats(-0.05, 0.05), centre=st.floats(300.3, 300.7), width=st.floats(0.03, 0.1))
def test_a_shift_moves_the_line_centroid_by_the_shift(shift, centre, width):
    wl = np.linspace(299.5, 301.5, 801)                 # 0.0025 nm pixels: interpolation is near exact
    x = _line(wl, centre, width)
    y = shifted(wl, x, shift)
    centroid = lambda v: float(v @ wl / v.sum())        # noqa: E731
    assert centroid(y) - centroid(x) == pytest.approx(shift, abs=2e-4)
    assert y.sum() == pytest.approx(x.sum(), rel=1e-3)  # the line's area is kept


def test_copies_are_laid_out_copy_by_copy_and_keep_their_piece():
    rng = np.random.default_rng(0)
    X = np.stack([_line(GRID, GRID[GRID.size // 3], 0.05) + 100 + rng.normal(0, 2, GRID.size),
                  _line(GRID, GRID[2 * GRID.size // 3], 0.05) + 100 + rng.normal(0, 2, GRID.size)])
    out = augment_spectra(GRID, X, Augmentation(copies=3), np.random.default_rng(1))
    assert out.shape == (6, GRID.size)
    # copy c of row i is row c * n + i: its line stays where row i has it
    assert np.all(np.argmax(out[0::2], axis=1) - np.argmax(X[0]) <= 2)
    assert np.all(np.argmax(out[1::2], axis=1) - np.argmax(X[1]) <= 2)
    again = augment_spectra(GRID, X, Augmentation(copies=3), np.random.default_rng(1))
    np.testing.assert_array_equal(out, again)
    assert augment_spectra(GRID, X, Augmentation(copies=0), np.random.default_rng(1)).shape == (0, GRID.size)


def test_added_noise_is_the_fraction_of_the_spectrums_own_noise_on_a_flat_spectrum():
    """Without shift or scale a copy differs from its spectrum by the added noise alone: f sigma."""
    rng = np.random.default_rng(2)
    sigma = 3.0
    X = 500.0 + rng.normal(0.0, sigma, size=(40, 4000))
    aug = Augmentation(copies=1, max_shift_nm=0.0, scale_sd=0.0, noise_fraction=0.5)
    wl = np.linspace(250.0, 450.0, 4000)
    diff = augment_spectra(wl, X, aug, np.random.default_rng(3)) - X
    measured = NoiseLevel().fit(X).transform(X).mean()
    # flat: x - x_5 <= x_50 - x_5 on half the pixels; above it the variance grows with x - x_5
    assert diff.std() == pytest.approx(0.5 * measured, rel=0.25)
    assert np.median(np.abs(diff)) == pytest.approx(0.5 * measured * 0.6745, rel=0.1)


def test_noise_grows_with_the_signal_as_shot_noise():
    """On a line 100 times the continuum above the floor, the added variance is about 100 times larger."""
    wl = np.linspace(250.0, 450.0, 4000)
    rng = np.random.default_rng(4)
    base = 1000.0 + 10.0 * np.sin(wl / 3.0) ** 2            # floor 1000, continuum ~5 above it
    X = np.tile(base, (200, 1)) + rng.normal(0.0, 0.5, size=(200, wl.size))
    X[:, 2000] += 500.0                                     # a flat-topped "line" pixel
    aug = Augmentation(copies=1, max_shift_nm=0.0, scale_sd=0.0, noise_fraction=1.0)
    diff = augment_spectra(wl, X, aug, np.random.default_rng(5)) - X
    sigma = NoiseLevel().fit(X).transform(X)[:, 0]
    level = np.percentile(X, 50, axis=1) - np.percentile(X, 5, axis=1)
    expected = np.sqrt(np.mean(sigma ** 2 * (X[:, 2000] - np.percentile(X, 5, axis=1)) / level))
    assert diff[:, 2000].std() == pytest.approx(expected, rel=0.15)


def test_with_copies_keeps_each_copys_grade_composition_state_and_piece():
    rng = np.random.default_rng(6)
    X = 100.0 + rng.normal(0, 1, size=(3, GRID.size))
    y = np.array(["5182", "6063", "7075"])
    Y = np.array([[4.5, 0.1], [0.5, 0.45], [2.5, 0.05]])
    Xa, ya, Ya, state, pieces = with_copies(GRID, X, y, Y, None, Augmentation(copies=2), np.random.default_rng(0))
    assert Xa.shape == (9, GRID.size) and state is None
    np.testing.assert_array_equal(Xa[:3], X)
    np.testing.assert_array_equal(pieces, [0, 1, 2] * 3)
    np.testing.assert_array_equal(ya[pieces == 1], ["6063"] * 3)
    np.testing.assert_array_equal(Ya[pieces == 2], [[2.5, 0.05]] * 3)


def test_copies_never_exceed_the_detector_maximum():
    X = np.full((3, GRID.size), 60000.0)
    out = augment_spectra(GRID, X, Augmentation(copies=2, scale_sd=0.3), np.random.default_rng(0), 65535.0)
    assert out.max() <= 65535.0


@pytest.mark.parametrize("field, value", [("copies", -1), ("copies", 1.5), ("max_shift_nm", -0.1),
                                          ("noise_fraction", float("nan")), ("scale_sd", float("inf"))])
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        Augmentation(**{field: value})


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="expected"):
        augment_spectra(GRID, np.ones((2, GRID.size - 1)), Augmentation(), np.random.default_rng(0))


def test_train_learns_from_copies_of_the_training_split_only(toy_data, tmp_path):
    """The card records the copies; the held-out split (report) keeps its own size."""
    from sorter.training.data import TrainingData
    from sorter.training.train import train

    (X, y, Y, el), _ = toy_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(TrainingData(GRID, X, y, el, Y, "toy-instrument", "toy", 65535.0), tmp_path / "aug.onnx",
                       max_iter=60, hidden_layer_sizes=(16,), n_members=1, augmentation=Augmentation(copies=2))
    td = result.card.training_data
    assert td["augmentation"]["copies"] == 2
    assert td["n_train"] + td["n_held_out"] == len(y)
    assert result.metrics["n"] == td["n_held_out"]
