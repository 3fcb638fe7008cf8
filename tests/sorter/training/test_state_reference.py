"""The plasma-state map learnt on simulated reference spectra, which places a plant model's experts."""

import warnings
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from research.scenarios import transfer_instrument, unseen_instrument
from sorter.instruments import get_instrument
from sorter.training.composition import GradeWiseComposition, plasma_state_map
from sorter.training.data import simulated_data
from sorter.training.state_reference import reference_profile, reference_spectra, window_span_nm
from sorter.training.train import train


def grades_with_a_state(seed: int, n: int = 120, k: int = 10, noise: float = 0.02):
    """Three grades whose first four features move linearly with a 2-d state, each grade offset."""
    rng = np.random.default_rng(seed)
    M = 2.0 * np.linalg.qr(rng.normal(size=(4, 4)))[0][:2]      # well conditioned: the state is readable
    labels = np.repeat(["a", "b", "c"], n)
    state = rng.normal(size=(3 * n, 2)) + np.repeat(rng.normal(0, 3, (3, 2)), n, axis=0)
    Z = rng.normal(size=(3 * n, k))
    Z[:, :4] = state @ M + noise * rng.normal(size=(3 * n, 4))
    Z += np.repeat(rng.normal(0, 5, (3, k)), n, axis=0)     # each grade (and instrument) its own offsets
    return Z, labels, state


def r_squared(x, t) -> float:
    X = np.c_[x, np.ones(len(x))]
    res = t - X @ np.linalg.lstsq(X, t, rcond=None)[0]
    return 1.0 - res.var() / t.var()


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_the_map_reads_the_state_inside_every_grade(seed):
    Z, labels, state = grades_with_a_state(seed)
    A = plasma_state_map(Z, labels, state)
    for g in ("a", "b", "c"):
        rows = labels == g
        for j in range(2):
            assert r_squared(Z[rows] @ A[:, j], state[rows, j]) > 0.99


def test_the_map_ignores_offsets_between_grades():
    # moving one grade's features and states leaves the within-grade relation, and so the map, as it was
    Z, labels, state = grades_with_a_state(3)
    A = plasma_state_map(Z, labels, state)
    Z2, state2 = Z.copy(), state.copy()
    Z2[labels == "b"] += 40.0
    state2[labels == "b"] -= 7.0
    assert_allclose(plasma_state_map(Z2, labels, state2), A, rtol=1e-9, atol=1e-12)


def test_the_map_agrees_with_least_squares_on_centred_features():
    # independent method: ordinary least squares on features and states centred per grade
    Z, labels, state = grades_with_a_state(5, noise=0.05)
    A = plasma_state_map(Z, labels, state)
    Zc, Sc = Z.copy(), state.copy()
    for g in np.unique(labels):
        Zc[labels == g] -= Zc[labels == g].mean(axis=0)
        Sc[labels == g] -= Sc[labels == g].mean(axis=0)
    B = np.linalg.lstsq(Zc, Sc, rcond=None)[0]
    for j in range(2):
        cosine = A[:, j] @ B[:, j] / np.linalg.norm(A[:, j]) / np.linalg.norm(B[:, j])
        assert cosine > 0.999


def test_the_experts_are_placed_on_the_given_map_without_plasma_states():
    Z, labels, state = grades_with_a_state(7, n=200)
    Y = (Z[:, :1] * 0.1 + 5.0)
    A = plasma_state_map(Z, labels, state)
    m = GradeWiseComposition(n_experts=4, min_expert_spectra=100).fit(Z, labels, Y, ["a", "b", "c"], state_map=A)
    for c, g in enumerate(("a", "b", "c")):
        S = Z[labels == g] @ m.state_map_[c] + m.state_offset_[c]
        assert_allclose(S.mean(axis=0), 0.0, atol=1e-9)
        assert_allclose(S.std(axis=0), 1.0, rtol=1e-6)
        assert r_squared(S[:, 0], state[labels == g, 0]) > 0.99
    with pytest.raises(ValueError, match="state_map: shape"):
        GradeWiseComposition().fit(Z, labels, Y, ["a", "b", "c"], state_map=A[:3])


def test_the_reference_profile_spans_the_line_windows_at_the_nearest_pixel_pitch(monkeypatch):
    assert reference_profile(transfer_instrument().wavelength_nm) == "broadband"      # 250-560 nm
    assert reference_profile(get_instrument("highres").wavelength_nm) == "highres"    # both span it
    # 190-880 nm: wider than every profile, but no window reads below 229 nm or above 709 nm
    lo, hi = window_span_nm(unseen_instrument("broadband").wavelength_nm)
    assert 200.0 < lo < 240.0 and 420.0 < hi < 900.0
    assert reference_profile(unseen_instrument("broadband").wavelength_nm) == "broadband"
    assert reference_spectra(transfer_instrument().wavelength_nm, choice="none")[0] is None
    with pytest.raises(ValueError, match="state_reference: 'highres' spans 240-420 nm, the line windows"):
        reference_spectra(transfer_instrument().wavelength_nm, choice="highres")
    # with only the high-resolution profile shipped, nothing spans the 250-560 nm windows
    highres = get_instrument("highres")
    monkeypatch.setattr("sorter.training.state_reference.instrument_profiles", lambda: {"highres": highres})
    reference, info = reference_spectra(transfer_instrument().wavelength_nm)
    assert reference is None and "no shipped instrument profile spans the line windows" in info["reason"]


@pytest.mark.slow
def test_a_plant_model_trained_without_states_reads_the_state_from_the_reference(tmp_path):
    # 190 pieces per grade: the 80% training split has the 150 spectra experts need
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = simulated_data(transfer_instrument(), 190, 5, grades=("6061", "5052", "copper"))
        plant = replace(data, plasma_state=None)
        fits = {ref: train(plant, tmp_path / f"{ref}.onnx", seed=1, n_members=1, max_iter=50, state_reference=ref)
                for ref in ("auto", "none")}
    assert fits["auto"].card.training_data["state_reference"]["profile"] == "broadband"
    assert fits["none"].card.training_data["state_reference"]["profile"] is None
    for grade in ("6061", "5052"):
        rows = data.labels == grade
        r2 = {}
        for ref, res in fits.items():
            m = res.model
            c = list(m.classes_).index(grade)
            S = m.scaler_.transform(m.lines_.transform(data.intensity[rows])) @ m.composition_.state_map_[c]
            r2[ref] = min(r_squared(S, data.plasma_state[rows, j]) for j in range(2))
        # the true state (unknown to training) is read far better through the reference than by the PCs
        assert r2["auto"] > 0.9 and r2["auto"] > r2["none"] + 0.2, r2


def test_training_data_with_states_or_too_few_spectra_need_no_reference(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = simulated_data(transfer_instrument(), 20, 6, grades=("6061", "copper"))
        with_states = train(data, tmp_path / "s.onnx", seed=1, n_members=1, max_iter=30)
        few = train(replace(data, plasma_state=None), tmp_path / "f.onnx", seed=1, n_members=1, max_iter=30)
    assert "carry their plasma states" in with_states.card.training_data["state_reference"]["reason"]
    assert "experts need" in few.card.training_data["state_reference"]["reason"]
    with pytest.raises(ValueError, match="state_reference: 'plant-c' must be auto, none or a shipped"):
        train(data, tmp_path / "x.onnx", state_reference="plant-c")
