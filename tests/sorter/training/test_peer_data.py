"""A plant's batches that number their pieces: pieces carried into training, grouped split, CLI choices."""

import numpy as np

from sorter.batch import SpectrumBatch
from sorter.io.npz import save_batch
from sorter.training.data import load_training_data
from tests.support.cli import run_aluloop
from tests.support.libs_fixtures import GRID, toy_batch


def test_piece_numbers_come_from_meta_and_stay_distinct_across_batches(tmp_path):
    X, y, Y, el = toy_batch(GRID, 4, seed=3)
    piece = np.arange(len(y)) // 2
    save_batch(tmp_path / "a.npz", SpectrumBatch(GRID, X[:10], y[:10], el, Y[:10], "toy", {"piece": piece[:10]}))
    save_batch(tmp_path / "b.npz", SpectrumBatch(GRID, X[10:], y[10:], el, Y[10:], "toy", {"piece": piece[10:] - 5}))
    data = load_training_data(str(tmp_path))
    assert data.pieces is not None and data.pieces.shape == (len(y),)
    # two shots per piece, and batch b's piece numbers (which restart) are not batch a's
    assert np.unique(data.pieces).size == len(y) // 2
    assert not set(data.pieces[:10]) & set(data.pieces[10:])


def test_batches_without_piece_numbers_have_none(tmp_path):
    X, y, Y, el = toy_batch(GRID, 2, seed=3)
    save_batch(tmp_path / "a.npz", SpectrumBatch(GRID, X, y, el, Y, "toy"))
    assert load_training_data(str(tmp_path / "a.npz")).pieces is None


def test_an_unknown_classifier_is_refused_before_training(tmp_path):
    X, y, Y, el = toy_batch(GRID, 2, seed=3)
    save_batch(tmp_path / "a.npz", SpectrumBatch(GRID, X, y, el, Y, "toy"))
    r = run_aluloop("train", "libs", "--data", str(tmp_path / "a.npz"), "--out", str(tmp_path / "m.onnx"),
                    "--classifier", "svm")
    assert r.returncode == 2, r.stderr
    assert "not one of" in (r.stdout + r.stderr) and "Traceback" not in r.stderr
