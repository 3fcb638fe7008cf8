"""Which model reads a spectrum when several are bundled (registry.choose_model)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sorter.serving.registry import bundled_cards, choose_model
from sorter.spectrum import Metadata, Spectrum


@pytest.fixture(scope="module")
def base_card():
    cards = bundled_cards()
    assert cards, "the repository bundles models in models/"
    return next(iter(cards.values()))[1]


def _card(base, instrument, lo, hi, step):
    """A card whose line windows are left out, so its coverage is the overlap of the grids [-]."""
    grid = np.arange(lo, hi + step / 2, step).tolist()
    return Path(f"{instrument}.onnx"), replace(base, instrument=instrument, wavelength_grid_nm=grid, line_windows=[])


def _spectrum(lo, hi, step, instrument=""):
    wl = np.arange(lo, hi + step / 2, step)
    return Spectrum(wl, np.ones(wl.size), Metadata(instrument=instrument))


def test_the_best_covering_model_wins_among_several(base_card):
    # coverage of a 300-400 nm spectrum: narrow 0.2, wide 1.0, half 0.5; the best is neither first nor last
    cards = {"narrow": _card(base_card, "a", 300, 800, 0.1), "wide": _card(base_card, "b", 300, 400, 0.1),
             "half": _card(base_card, "c", 350, 450, 0.1)}
    assert choose_model(_spectrum(300, 400, 0.1), cards) == "wide"
    # and in every order of the cards, so neither the first nor the last seen wins by position
    for order in (["wide", "narrow", "half"], ["half", "wide", "narrow"], ["narrow", "half", "wide"]):
        assert choose_model(_spectrum(300, 400, 0.1), {k: cards[k] for k in order}) == "wide"


def test_equal_coverage_goes_to_the_nearest_pixel_step(base_card):
    cards = {"coarse": _card(base_card, "a", 300, 400, 0.5), "fine": _card(base_card, "b", 300, 400, 0.02),
             "like": _card(base_card, "c", 300, 400, 0.1)}
    # a spectrum spanning 290-410 nm covers each card fully: the pixel step decides
    assert choose_model(_spectrum(290, 410, 0.1), cards) == "like"
    assert choose_model(_spectrum(290, 410, 0.45), cards) == "coarse"
    assert choose_model(_spectrum(290, 410, 0.025), cards) == "fine"


def test_the_instrument_named_in_the_file_wins_over_coverage(base_card):
    cards = {"wide": _card(base_card, "plant-a", 300, 400, 0.1), "own": _card(base_card, "plant-b", 350, 360, 0.1)}
    assert choose_model(_spectrum(300, 400, 0.1, "plant-b"), cards) == "own"
    assert choose_model(_spectrum(300, 400, 0.1, "plant-c"), cards) == "wide"   # unknown name: coverage
    assert choose_model(_spectrum(300, 400, 0.1), cards) == "wide"


def test_no_models_is_a_named_error():
    with pytest.raises(FileNotFoundError, match="no bundled models"):
        choose_model(_spectrum(300, 400, 0.1), {})
