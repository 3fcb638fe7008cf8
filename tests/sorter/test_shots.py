"""Shot model: surface layers in the first shots, cleaning, averaging and misses."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sorter.instruments import get_instrument
from sorter.shots import ShotPlan, layer_fractions, mix, surface_layers
from sorter.simulate import PlasmaRanges, draw_piece_shots, simulate_batch, simulate_piece_shots


def _line_area(batch, row, centre, half=0.25):
    wl = batch.wavelength_nm
    y = batch.intensity[row]
    sel = np.abs(wl - centre) <= half
    side = (np.abs(wl - centre) > half) & (np.abs(wl - centre) <= 2 * half)
    return float((y[sel] - np.median(y[side])).sum())


def test_layer_fraction_by_hand():
    # depth 1.5 shots: shot 0 all layer, shot 1 half layer, then the crater wall decays by e per shot
    f = layer_fractions(1.5, 4, coverage=0.8, wall_fraction=0.1)
    assert_allclose(f, 0.8 * np.array([1.0, 0.5, 0.1 * np.exp(-0.5), 0.1 * np.exp(-1.5)]))


def test_mixture_conserves_mass():
    m = mix({"Mg": 4.5}, surface_layers()["lacquer"].composition_wt_pct, 0.3)
    assert_allclose(sum(m.values()), 100.0)
    assert_allclose(m["Ti"], 0.3 * 15.0)
    assert_allclose(m["Mg"], 0.7 * 4.5)


def test_lacquer_shows_ti_first_and_is_gone_after_cleaning():
    plan = ShotPlan(n_shots=3, cleaning_shots=3, surface="lacquer")
    shots = simulate_piece_shots({"Mg": 4.5, "Mn": 0.35}, "highres", 3, plan, noise_scale=0.0,
                                 label="5182")
    assert list(shots.meta["cleaning"]) == [1, 1, 1, 0, 0, 0]
    ti = [_line_area(shots, k, 334.94) for k in range(6)]  # Ti II 334.94, strongest Ti line
    mg = [_line_area(shots, k, 285.21) for k in range(6)]
    assert ti[0] > 20 * max(ti[4:])
    assert ti[0] / mg[0] > 50 * (ti[-1] / mg[-1])


def test_cleaning_shots_make_a_coated_piece_look_like_bare_metal():
    coated = simulate_batch(["5182"], 6, "broadband", seed=8, noise_scale=0.0,
                            shot_plan=ShotPlan(n_shots=3, cleaning_shots=6, surface="paint"))  # paint: 2-5 shots deep
    uncleaned = simulate_batch(["5182"], 6, "broadband", seed=8, noise_scale=0.0,
                               shot_plan=ShotPlan(n_shots=3, cleaning_shots=0, surface="paint"))
    assert np.all(coated.meta["surface_fraction"] < 0.05)
    assert np.all(uncleaned.meta["surface_fraction"] > 0.3)
    ca = [_line_area(b, i, 393.37) / _line_area(b, i, 394.40) for b in (coated, uncleaned) for i in range(6)]
    assert np.median(ca[6:]) > 10 * np.median(ca[:6])   # Ca II 393.37 from the paint filler


def test_missed_shots_are_weak():
    shots = simulate_piece_shots({"Mg": 0.7, "Si": 0.4}, "broadband", 5,
                                 ShotPlan(n_shots=40, miss_rate=0.3), noise_scale=0.0)
    total = shots.intensity.sum(axis=1) - shots.intensity.shape[1] * 400.0
    missed = shots.meta["missed"].astype(bool)
    assert missed.any() and (~missed).any()
    assert np.median(total[missed]) < 0.1 * np.median(total[~missed])


@pytest.mark.parametrize("kwargs, match", [
    ({"n_shots": 0}, "n_shots"), ({"cleaning_shots": -1}, "cleaning_shots"),
    ({"surface": "chrome"}, "unknown layer 'chrome'"), ({"coverage": 1.5}, "coverage"),
    ({"miss_rate": 1.0}, "miss_rate"),
])
def test_bad_shot_plans_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ShotPlan(**kwargs)


def test_shots_on_one_piece_share_a_plasma_state_that_scatters_by_the_stated_spread():
    """Within a piece log T_e and log n_e scatter with the given sd; between pieces they span the range."""
    plasma = PlasmaRanges(T_e_K=(8000.0, 14000.0), shot_T_rsd=0.03, shot_n_e_rsd=0.1)
    rng = np.random.default_rng(11)
    inst = get_instrument("broadband")
    pieces = [draw_piece_shots(rng, inst, plasma, 6, 0.01) for _ in range(400)]
    logT = np.log([[s.T_e_K for s in p] for p in pieces])
    logn = np.log([[s.n_e_per_cm3 for s in p] for p in pieces])
    # pooled within-piece sd (ddof 1 per piece) estimates the shot scatter
    assert_allclose(np.sqrt(logT.var(axis=1, ddof=1).mean()), 0.03, rtol=0.08)
    assert_allclose(np.sqrt(logn.var(axis=1, ddof=1).mean()), 0.10, rtol=0.08)
    # the piece means cover the range: a uniform 8,000-14,000 K has sd 6000 / sqrt(12) = 1732 K
    assert_allclose(np.exp(logT).mean(axis=1).std(), 6000 / np.sqrt(12), rtol=0.12)
    assert all(s.offset_nm != 0.01 for p in pieces for s in p)  # instrument drift on top of the piece offset



@pytest.mark.parametrize("sampling, transform", [("uniform", lambda T: T), ("inverse", lambda T: 1.0 / T)])
def test_plasma_temperatures_are_uniform_in_the_named_variable(sampling, transform):
    """Kolmogorov-Smirnov against the uniform law of T_e (or of 1/T_e) over the range."""
    from scipy.stats import kstest

    from sorter.simulate import draw_plasma_states

    lo, hi = 8000.0, 14000.0
    T, ne = draw_plasma_states(np.random.default_rng(3), PlasmaRanges(T_e_K=(lo, hi), T_sampling=sampling), 4000)
    a, b = sorted((transform(lo), transform(hi)))
    assert kstest(transform(T), "uniform", args=(a, b - a)).pvalue > 1e-3
    assert np.all((T >= lo) & (T <= hi)) and np.all((ne >= 1e16) & (ne <= 1e18))
