"""Model selection by grouped cross-validation (sorter.training.selection) and the composition guide."""

import warnings

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from blending.errors import InputError
from sorter.training.composition_guide import LOG_OFFSET_WT_PCT, fit_guide, row_families
from sorter.training.data import grouped_split
from sorter.training.selection import grouped_folds, make_classifier, select_classifier
from tests.support.libs_fixtures import GRID


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(2, 6), min_size=2, max_size=4), st.integers(1, 4), st.integers(0, 10_000))
def test_no_piece_sits_on_both_sides_of_a_fold_or_split(pieces_per_grade, shots, seed):
    labels, groups = [], []
    for g, n in enumerate(pieces_per_grade):
        for p in range(n):
            labels += [f"g{g}"] * shots
            groups += [100 * g + p] * shots
    labels, groups = np.array(labels), np.array(groups)
    for tr, te in grouped_folds(labels, groups, 5, seed):
        assert not set(groups[tr]) & set(groups[te])
        assert len(tr) + len(te) == labels.size
    tr, te = grouped_split(labels, groups, 0.25, seed)
    assert not set(groups[tr]) & set(groups[te]) and len(tr) + len(te) == labels.size
    assert set(labels[te]) == set(labels)  # every grade has a held-out piece


def test_one_piece_per_grade_cannot_be_cross_validated():
    with pytest.raises(InputError, match="need at least 2 per grade"):
        grouped_folds(np.array(["a", "a", "b"]), np.array([0, 0, 1]), 5, 0)


def test_unknown_family_is_a_clear_error():
    with pytest.raises(InputError, match="not one of"):
        make_classifier("svm")


def xor_features(n_pieces: int, seed: int):
    """Grades set by the sign pattern of two features (XOR) plus noise features; 3 shots per piece."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(-1, 1, size=(n_pieces, 2))
    labels = np.where((centre[:, 0] > 0) ^ (centre[:, 1] > 0), "a", "b")
    X = np.repeat(np.hstack([centre, rng.normal(size=(n_pieces, 4))]), 3, axis=0)
    X[:, :2] += rng.normal(0, 0.02, size=(X.shape[0], 2))
    return X, np.repeat(labels, 3), np.repeat(np.arange(n_pieces), 3)


def test_selection_prefers_the_family_that_can_separate_the_grades():
    """XOR grades: a linear model is at chance, boosted trees are not; every candidate is scored and reported."""
    X, y, g = xor_features(120, 0)
    calls = []

    def features(shift):
        calls.append(shift)
        return X

    sel = select_classifier(features, y, g, classifiers=("logistic", "hgb"), shifts_nm=(0.0,), n_folds=3)
    assert calls == [0.0]
    by = {s.classifier: s.cv_accuracy for s in sel.scores}
    assert sel.best.classifier == "hgb" and by["hgb"] > 0.85 and by["logistic"] < 0.7
    assert [s.cv_accuracy for s in sel.scores] == sorted((s.cv_accuracy for s in sel.scores), reverse=True)
    d = sel.as_dict()
    assert d["grouped_by"] == "piece" and d["n_folds"] == 3 and len(d["candidates"]) == 2


def test_grouped_cv_does_not_reward_memorising_pieces():
    """Labels drawn at random per piece: grouped CV scores near chance, as new pieces would be scored.

    Shots of a piece are nearly identical, so splitting them across folds would let any flexible model
    look near perfect.
    """
    rng = np.random.default_rng(1)
    n = 90
    X = np.repeat(rng.normal(size=(n, 5)), 3, axis=0) + rng.normal(0, 1e-3, size=(3 * n, 5))
    y = np.repeat(rng.choice(["a", "b", "c"], size=n), 3)
    g = np.repeat(np.arange(n), 3)
    sel = select_classifier(lambda s: X, y, g, classifiers=("hgb",), shifts_nm=(0.0,), n_folds=3)
    assert sel.best.cv_accuracy < 0.6
    ungrouped = select_classifier(lambda s: X, y, None, classifiers=("hgb",), shifts_nm=(0.0,), n_folds=3)
    assert ungrouped.best.cv_accuracy > 0.8 and ungrouped.as_dict()["grouped_by"] == "spectrum"


def test_composition_guide_recovers_a_linear_law():
    """ln(wt% + 0.01) exactly linear in the features: the guide's coefficients are least squares'."""
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(300, 6))
    W = rng.normal(size=(6, 2)) * 0.3
    C = np.exp(Z @ W + np.array([0.5, -1.0])) - LOG_OFFSET_WT_PCT
    C = np.column_stack([C, np.full(300, np.nan)])  # an element not analysed in every row is left out
    guide, oof = fit_guide(Z, C, ("Mg", "Mn", "Cr"), np.repeat(np.arange(100), 3))
    assert guide.elements == ("Mg", "Mn")
    assert_allclose(guide.coef_, W, atol=1e-3)
    assert_allclose(oof, Z @ W + np.array([0.5, -1.0]), atol=1e-2)
    assert fit_guide(Z, np.full((300, 1), np.nan), ("Mg",)) == (None, None)


@pytest.fixture(scope="module")
def hgb_guided(toy_data):
    from sorter.training.model import LibsModel

    (X, y, Y, el), _ = toy_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LibsModel(GRID, classifier="hgb", guided=True).fit(X, y, Y, el, groups=np.arange(y.size) // 2)


def test_guided_gradient_boosting_exports_to_one_graph_that_agrees(hgb_guided, toy_data):
    from sorter.training.onnx_export import export_onnx

    _, (X, y, _, _) = toy_data
    assert hgb_guided.guide_ is not None
    sk = hgb_guided.outputs(X)
    s = ort.InferenceSession(export_onnx(hgb_guided, GRID.size), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    ox = dict(zip(names, s.run(None, {s.get_inputs()[0].name: X.astype(np.float32)}), strict=True))
    # float32 features can fall on the other side of a tree threshold: compare the decisions and the bulk
    agree = np.mean(np.argmax(ox["probabilities"], axis=1) == np.argmax(sk["probabilities"], axis=1))
    assert agree >= 0.98
    assert np.median(np.abs(ox["probabilities"] - sk["probabilities"])) < 1e-4
    assert np.mean(hgb_guided.predict(X) == y) > 0.9


def test_family_guides_recover_each_familys_own_law():
    """ln(wt%) linear in the features with another law in each family: the family guides find each law.

    The one global ridge cannot fit both laws; each family's ridge, fitted on its rows only, is least
    squares on them. Rows of the other family get that ridge's estimate (they did not train it).
    """
    rng = np.random.default_rng(4)
    n = 240
    Z = rng.normal(size=(n, 5))
    labels = np.array(["5052", "5754", "6061", "6063"] * (n // 4))
    pieces = np.arange(n) // 2
    W = {"5xxx": rng.normal(size=(5, 1)) * 0.3, "6xxx": rng.normal(size=(5, 1)) * 0.3}
    b = {"5xxx": 1.0, "6xxx": -0.5}
    fam = np.where(np.char.startswith(labels, "5"), "5xxx", "6xxx")
    logc = np.array([Z[i] @ W[f][:, 0] + b[f] for i, f in enumerate(fam)])
    C = np.exp(logc)[:, None] - LOG_OFFSET_WT_PCT
    guide, oof = fit_guide(Z, C, ("Mg",), pieces, labels=labels, families=row_families(labels))
    assert guide.elements == ("Mg", "Mg|5xxx", "Mg|6xxx")
    assert_allclose(guide.coef_[:, 1:2], W["5xxx"], atol=2e-3)
    assert_allclose(guide.coef_[:, 2:3], W["6xxx"], atol=2e-3)
    assert_allclose(guide.intercept_[1:], [1.0, -0.5], atol=2e-3)
    # out-of-fold on the family's own rows, the family ridge's estimate elsewhere
    five = fam == "5xxx"
    assert_allclose(oof[five, 1], logc[five], atol=2e-2)
    assert_allclose(oof[~five, 1], guide(Z)[~five, 1], atol=1e-9)
    # the global column cannot fit two laws as well as the family columns fit theirs
    assert np.mean((oof[:, 0] - logc) ** 2) > 10 * np.mean((oof[five, 1] - logc[five]) ** 2)
    # a family of one grade gets no family guide
    one = np.where(labels == "5754", "5052", labels)
    g1, _ = fit_guide(Z, C, ("Mg",), pieces, labels=one, families=row_families(one))
    assert g1.elements == ("Mg", "Mg|6xxx")


def test_plant_grades_without_a_family_row_are_their_own_family():
    assert list(row_families(["5052", "plant-X", "6061"])) == ["5xxx", "plant-X", "6xxx"]


def test_refinements_are_scored_with_the_winning_family_and_win_when_they_carry_the_signal():
    """The grade is in a feature only the extended set has: the extended candidate wins and is reported."""
    rng = np.random.default_rng(3)
    n = 120
    signal = rng.normal(size=n)
    y = np.repeat(np.where(signal > 0, "5052", "5754"), 3)
    g = np.repeat(np.arange(n), 3)
    noise = rng.normal(size=(3 * n, 4))
    X = noise
    Xe = np.column_stack([noise, np.repeat(signal, 3) + rng.normal(0, 0.05, 3 * n)])
    C = np.column_stack([np.full(3 * n, 1.0) + rng.uniform(0, 0.1, 3 * n)])
    sel = select_classifier(lambda s: X, y, g, composition=C, elements=("Mg",), classifiers=("logistic",),
                            shifts_nm=(0.0,), n_folds=3, extended_features=lambda s: Xe,
                            families=row_families(y))
    assert len(sel.scores) == 2 + 3
    assert sel.best.lines == "extended" and sel.best.cv_accuracy > 0.9
    assert all(s.cv_accuracy < 0.75 for s in sel.scores if s.lines == "standard")
    assert "extended line features" in sel.best.name
    assert sel.as_dict()["lines"] == "extended"


def test_extended_line_set_adds_atomic_data_lines_to_the_standard_set():
    """Every extra window sits on a line of its element and ion stage in the project's atomic data."""
    import csv
    from importlib.resources import files

    from sorter.preprocess.lines import feature_lines
    from sorter.training.line_sets import extra_lines, line_set

    standard = feature_lines()
    extended = line_set("extended")
    assert line_set("standard") is None
    assert extended[:len(standard)] == standard
    assert len({line.name for line in extended}) == len(extended) > len(standard)
    rows = list(csv.DictReader(line for line in (files("sorter.data") / "libs_lines.csv").read_text().splitlines()
                               if not line.startswith("#")))
    for line in extra_lines():
        assert line.role == "analyte" and line.element in ("Mn", "Cr")
        for nm in (line.first_nm, line.last_nm):
            assert any(r["element"] == line.element and int(r["ion_stage"]) == line.ion_stage
                       and abs(float(r["wavelength_nm"]) - nm) < 2e-3 for r in rows), (line.name, nm)
    with pytest.raises(InputError, match="not one of"):
        line_set("all")


def test_extended_lines_and_family_guides_export_to_one_graph_that_agrees(toy_data):
    """The family guides' columns and the extra windows are in the graph: ONNX agrees with scikit-learn."""
    from sorter.training.model import LibsModel
    from sorter.training.onnx_export import export_onnx

    (X, y, Y, el), (Xh, yh, _, _) = toy_data
    # two grades of one family, so that the 5xxx family guide exists
    relabel = {"1050A": "5052"}
    y, yh = np.array([relabel.get(v, v) for v in y]), np.array([relabel.get(v, v) for v in yh])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LibsModel(GRID, classifier="hgb", guided=True, family_guides=True, line_set="extended").fit(
            X, y, Y, el, groups=np.arange(y.size) // 2)
    assert any(e.endswith("|5xxx") for e in model.guide_.elements)
    assert "Mn_II_344.20" in [w.line.name for w in model.lines_.windows_]
    sk = model.outputs(Xh)
    s = ort.InferenceSession(export_onnx(model, GRID.size), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    ox = dict(zip(names, s.run(None, {s.get_inputs()[0].name: Xh.astype(np.float32)}), strict=True))
    agree = np.mean(np.argmax(ox["probabilities"], axis=1) == np.argmax(sk["probabilities"], axis=1))
    assert agree >= 0.98
    assert np.median(np.abs(ox["probabilities"] - sk["probabilities"])) < 1e-4
    assert np.mean(model.predict(Xh) == yh) > 0.9
