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


def test_auto_training_reports_every_candidate_in_report_and_card(tmp_path):
    """A plant's data (no plasma states, pieces numbered): train chooses by grouped CV and says so."""
    import json
    import warnings

    from sorter.training.data import TrainingData
    from sorter.training.train import train

    X, y, Y, el = toy_batch(GRID, 12, seed=5, grades=["1050A", "3003", "5182"])
    pieces = np.arange(len(y)) // 2
    data = TrainingData(GRID, X, y, el, Y, "toy-instrument", "toy", 65535.0, None, pieces)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = train(data, tmp_path / "plant.onnx", classifier="auto", cv_folds=2, max_iter=60,
                    hidden_layer_sizes=(16,), n_members=1, state_reference="none")
    sel = res.metrics["model_selection"]
    # 3 families x guide x drift, then the winner with family guides, extended lines, both
    assert len(sel["candidates"]) == 15 and sel["grouped_by"] == "piece"
    refined = [c for c in sel["candidates"] if c["lines"] == "extended" or c["family_guides"]]
    assert len(refined) == 3 and all(c["guided"] for c in refined)
    assert all(0.0 <= c["cv_accuracy"] <= 1.0 for c in sel["candidates"])
    chosen = [c for c in sel["candidates"] if c["name"] == sel["chosen"]][0]
    assert chosen["cv_accuracy"] == max(c["cv_accuracy"] for c in sel["candidates"])
    assert res.metrics["classifier"]["family"] == chosen["classifier"]
    card = json.loads(res.card_path.read_text())
    assert card["metrics"]["model_selection"]["chosen"] == sel["chosen"]
    # the composition's interval coverage in the card is the grouped cross-validated one, and says so
    cv = res.metrics["composition_cv"]
    assert card["metrics"]["composition_interval_coverage"] == cv["interval_coverage_major"]
    assert "cross-validation" in card["metrics"]["composition_interval_coverage_measured_by"]
    report = json.loads((res.report_dir / "report.json").read_text())
    assert report["model_selection"]["candidates"] == json.loads(json.dumps(sel["candidates"]))
    # whole pieces held out: no piece has shots on both sides
    assert "pieces" in res.metrics["evaluated_on"]
