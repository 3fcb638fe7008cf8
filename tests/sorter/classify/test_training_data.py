import numpy as np
import pytest
from libs_fixtures import GRID, toy_batch

from sorter.batch import SpectrumBatch
from sorter.classify.training import load_training_data, stratified_split
from sorter.io.npz import save_batch


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
