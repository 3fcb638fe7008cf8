import numpy as np
import pytest

from sorter.batch import SpectrumBatch
from sorter.io.npz import save_batch
from sorter.training.data import load_training_data, stratified_split
from tests.support.libs_fixtures import GRID, toy_batch


def test_npz_batches_in_a_folder_are_read_and_joined(tmp_path):
    X, y, Y, el = toy_batch(GRID, 4, seed=3)
    save_batch(tmp_path / "a.npz", SpectrumBatch(GRID, X[:10], y[:10], el, Y[:10], "toy"))
    save_batch(tmp_path / "b.npz", SpectrumBatch(GRID, X[10:], y[10:], el, Y[10:], "toy"))
    data = load_training_data(str(tmp_path))
    assert data.intensity.shape == X.shape and list(data.labels) == list(y)
    assert data.elements == ("Si", "Fe", "Cu", "Mn", "Mg", "Cr")  # the order
    np.testing.assert_allclose(data.composition, Y)
    assert data.sha256() == load_training_data(str(tmp_path)).sha256()


def test_a_path_that_is_neither_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no labels.csv and no .npz batches"):
        load_training_data(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        load_training_data(str(tmp_path / "missing"))


def test_stratified_split_holds_out_every_grade():
    labels = np.array(["a"] * 10 + ["b"] * 5 + ["c"] * 2)
    tr, te = stratified_split(labels, 0.2, 0)
    assert set(labels[te]) == {"a", "b", "c"} and not set(tr) & set(te) and len(tr) + len(te) == 17


def test_plasma_state_comes_from_batch_meta_where_every_batch_has_it(tmp_path):
    X, y, Y, el = toy_batch(GRID, 4, seed=3)
    T = np.linspace(8000.0, 14000.0, len(y))
    ne = np.geomspace(1e16, 1e18, len(y))
    meta = {"T_e_K": T[:10], "n_e_per_cm3": ne[:10]}
    save_batch(tmp_path / "a.npz", SpectrumBatch(GRID, X[:10], y[:10], el, Y[:10], "toy", meta))
    save_batch(tmp_path / "b.npz", SpectrumBatch(GRID, X[10:], y[10:], el, Y[10:], "toy",
                                                 {"T_e_K": T[10:], "n_e_per_cm3": ne[10:]}))
    data = load_training_data(str(tmp_path))
    np.testing.assert_allclose(data.plasma_state, np.column_stack([1e4 / T, np.log(ne)]))
    # a batch without the state (a plant's spectra): none for the whole set, the experts go label-free
    save_batch(tmp_path / "b.npz", SpectrumBatch(GRID, X[10:], y[10:], el, Y[10:], "toy"))
    assert load_training_data(str(tmp_path)).plasma_state is None


def test_simulated_training_data_carries_each_piece_plasma_state():
    from sorter.training.data import simulated_data

    d = simulated_data("highres", 2, seed=1, grades=("5182", "6063"), noise_scales=(1.0,), gate_spreads=(0.12,))
    assert d.plasma_state.shape == (4, 2)
    T, ne = 1e4 / d.plasma_state[:, 0], np.exp(d.plasma_state[:, 1])
    # pieces are drawn inside the training envelope (shot scatter of a few percent around it)
    assert np.all((T > 7000) & (T < 16000)) and np.all((ne > 5e15) & (ne < 2e18))
