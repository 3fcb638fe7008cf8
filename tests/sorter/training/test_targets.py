"""Regression bounds for both bundled models on seeded held-out simulated piece spectra (plasma, noise
and offsets not seen in training), an instrument they never saw, and a model retrained on a new
instrument profile. Sizes are small to fit the test budget.

The issue's targets (grade >= 98%, family >= 99.5%, unknown <= 2%, composition MAE <= 10% of the spec
range) are printed against larger samples by ``bench/classify_accuracy.py``, not asserted here: a test
at the target would pass a model that got much worse as long as it stayed above the target. Instead
each held-out set, for each model, is held to what it measured (``MEASURED``): error counts to the
measured count plus at most one piece (a count of zero has no 1.2x), the composition share to 1.2x
the measured median. No contaminant may be accepted as aluminium in any set (the target itself).
The model retrained on 200 spectra per grade is not bit-stable across library versions and its
margins are a piece or two: its test holds it to floors under what it measures, and says so."""

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from research.scenarios import HELD_OUT, transfer_instrument, unseen_instrument
from sorter.serving.reject import Decision
from sorter.serving.runtime import LibsRuntime
from sorter.shots import SHOTS_PER_PIECE, ShotPlan
from sorter.simulate import simulate_batch
from sorter.training.data import DEFAULT_GRADES, simulated_data
from sorter.training.evaluation import classification_metrics
from sorter.training.train import train

# evaluates both bundled models on held-out sets and retrains one: minutes
pytestmark = pytest.mark.slow

MODELS = Path(__file__).resolve().parents[3] / "models"
N_PER_GRADE = 8


def held_out(instrument, seed: int):
    batches = [c.simulate(DEFAULT_GRADES, N_PER_GRADE, instrument, seed + k) for k, c in enumerate(HELD_OUT)]
    wl = batches[0].wavelength_nm
    return wl, np.concatenate([b.intensity for b in batches]), np.concatenate([b.labels for b in batches]), batches


def metrics(rt: LibsRuntime, wl, X, labels):
    results = rt.classify_array(wl, X)
    decisions = [Decision(r.grade, r.family, max(r.probabilities.values()), r.decision, r.reason) for r in results]
    return classification_metrics(labels, decisions, rt.card.families, rt.classes), results


@pytest.fixture(scope="module", params=["broadband", "highres"])
def bundled(request):
    return LibsRuntime.load(MODELS / f"{request.param}.onnx")


@pytest.fixture(scope="module")
def bundled_held_out(bundled):
    wl, X, labels, batches = held_out(bundled.card.instrument, 9000)
    m, results = metrics(bundled, wl, X, labels)
    return m, results, labels, batches


# Measured on 2026-12-06 with N_PER_GRADE = 8 (152 pieces a set, 104 of them aluminium), set by set
# (research.scenarios.HELD_OUT order): (grade errors, family errors, aluminium pieces sent round,
# median composition MAE share of the spec range). Re-measure (print the per_set fixture) when a model
# is retrained or its card's accept bars change, and set these to the new values. The pieces sent round
# were re-measured after the per-pair accept bars (issue 24): 0/0/0 -> 3/1/1 and 0/0/0 -> 1/0/2.
MEASURED = {
    "broadband": [(0, 0, 3, 0.0486), (0, 0, 1, 0.0301), (0, 0, 1, 0.0510)],
    "highres": [(0, 0, 1, 0.0602), (0, 0, 0, 0.0274), (1, 0, 2, 0.0509)],
}
REGRESSION_FACTOR = 1.2      # a measured figure may grow by a fifth before the test fails
SLACK_PIECES = 1             # an error count may grow by one piece (1% of a set's aluminium pieces)
# the model retrained on 200 spectra per grade from a new instrument: measured 0.987 / 0.996 / 0.000 on the
# pooled sets here (0.982 / 0.996 / 0.003 before the indicator windows), grade 0.982-1.000 set by set in the bench
TRANSFER_GRADE_FLOOR, TRANSFER_FAMILY_FLOOR, TRANSFER_UNKNOWN_CEILING = 0.96, 0.98, 0.03


def _count_ceiling(measured: int) -> int:
    return max(int(REGRESSION_FACTOR * measured), measured + SLACK_PIECES)


def _shares(elements, results, labels, batch) -> list[float]:
    """MAE of each major element of each grade as a share of the grade's catalogue range [-]."""
    from sorter.training.evaluation import spec_ranges

    pred = np.array([[r.composition_wt_pct[e] for e in elements] for r in results], dtype=float)
    true = np.array([[batch.composition_wt_pct[i, batch.elements.index(e)] if e in batch.elements else 0.0
                      for e in elements] for i in range(len(batch))])
    out = []
    for g in DEFAULT_GRADES:
        rows = labels == g
        for e, (lo, hi) in spec_ranges(g).items():
            if e in elements:
                j = elements.index(e)
                out.append(np.abs(pred[rows, j] - true[rows, j]).mean() / (hi - lo))
    return out


@pytest.fixture(scope="module")
def per_set(bundled, bundled_held_out):
    """For each held-out set: (grade errors, family errors, aluminium pieces sent round, median share,
    contaminants accepted as aluminium)."""
    _, results, labels, batches = bundled_held_out
    out, start = [], 0
    for b in batches:
        res, lab = results[start:start + len(b)], labels[start:start + len(b)]
        start += len(b)
        decisions = [Decision(r.grade, r.family, max(r.probabilities.values()), r.decision, r.reason) for r in res]
        m = classification_metrics(lab, decisions, bundled.card.families, bundled.classes)
        n_al = int(sum(bundled.card.families[g] != "non-Al" for g in lab))
        out.append((round((1 - m["grade_accuracy"]) * len(lab)), round((1 - m["family_accuracy"]) * len(lab)),
                    round(m["unknown_rate_aluminium"] * n_al), float(np.median(_shares(bundled.card.elements, res,
                                                                                          lab, b))),
                    m["contaminants_accepted_as_aluminium"]))
    assert start == len(results)
    return out


def test_grade_and_family_errors_set_by_set_regression_ceiling(bundled, per_set):
    """Guards: the grade and the family of each held-out set's pieces, per bundled model, against
    a model or feature change that misclassifies more than one piece more than measured in any set."""
    measured = MEASURED[bundled.card.name]
    for k, ((grade, family, _, _, _), (m_grade, m_family, _, _)) in enumerate(zip(per_set, measured, strict=True)):
        assert grade <= _count_ceiling(m_grade), (HELD_OUT[k].name, grade, m_grade)
        assert family <= _count_ceiling(m_family), (HELD_OUT[k].name, family, m_family)
        assert family <= grade  # family is chosen first, so it is never worse


def test_aluminium_sent_round_set_by_set_regression_ceiling(bundled, per_set):
    """Guards: the reject thresholds of each bundled card, against a change that sends more good
    aluminium pieces round (unknown) than measured, set by set."""
    measured = MEASURED[bundled.card.name]
    for k, ((_, _, unknown, _, _), (_, _, m_unknown, _)) in enumerate(zip(per_set, measured, strict=True)):
        assert unknown <= _count_ceiling(m_unknown), (HELD_OUT[k].name, unknown, m_unknown)


def test_no_contaminant_is_ever_accepted_as_aluminium(bundled_held_out, per_set):
    m, *_ = bundled_held_out
    assert m["n_contaminants"] == 6 * N_PER_GRADE * len(HELD_OUT)
    assert [s[4] for s in per_set] == [0] * len(HELD_OUT)


def test_composition_error_set_by_set_regression_ceiling(bundled, bundled_held_out, per_set):
    """Guards: the composition estimate of each bundled model, set by set, against a change that
    makes the median MAE share of the spec range (over the grades' major elements) grow by more
    than a fifth of what it measured. The issue's 0.10 is met by the median but not by every grade
    and element (broadband 7075 Cr at the cool edge is 0.12-0.16 even for an estimator trained on
    that set's conditions, ``research/composition_oracle.py``); ``bench/classify_accuracy.py``
    prints it against the target. Also: a correctly graded piece's estimate is clipped into that
    grade's range, so its mean error stays under one range width."""
    from sorter.training.evaluation import spec_ranges

    for k, ((_, _, _, share, _), (*_, measured)) in enumerate(zip(per_set, MEASURED[bundled.card.name], strict=True)):
        assert share <= REGRESSION_FACTOR * measured, (HELD_OUT[k].name, share, measured)
    _, results, labels, batches = bundled_held_out
    elements = bundled.card.elements
    pred = np.array([[r.composition_wt_pct[e] for e in elements] for r in results], dtype=float)
    true = np.concatenate([[[b.composition_wt_pct[i, b.elements.index(e)] if e in b.elements else 0.0
                             for e in elements] for i in range(len(b))] for b in batches])
    right = np.array([r.grade for r in results]) == labels
    shares_right = []
    for g in DEFAULT_GRADES:
        rows = (labels == g) & right
        for e, (lo, hi) in spec_ranges(g).items():
            if e in elements and rows.any():
                j = elements.index(e)
                shares_right.append(np.abs(pred[rows, j] - true[rows, j]).mean() / (hi - lo))
    assert len(shares_right) >= 25
    assert max(shares_right) <= 1.0, sorted(shares_right)


def test_unseen_instrument_keeps_the_family(bundled):
    inst = unseen_instrument(bundled.card.instrument)
    b = simulate_batch(list(DEFAULT_GRADES), 12, inst, 777, wavelength_offset_nm=(-0.05, 0.05),
                       shot_plan=ShotPlan(n_shots=SHOTS_PER_PIECE))
    m, _ = metrics(bundled, b.wavelength_nm, b.intensity, b.labels)
    assert m["family_accuracy"] >= 0.95


def test_retrained_on_200_spectra_per_grade_from_a_new_instrument_regression_floor(tmp_path):
    new = transfer_instrument()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # as a plant trains: its labelled spectra carry no plasma state (the simulated reference places the experts)
        data = replace(simulated_data(new, 200, 31), plasma_state=None)
        res = train(data, tmp_path / "plant-b.onnx", seed=1)
    assert res.card.training_data["state_reference"]["profile"] == "broadband"
    rt = LibsRuntime.load(res.model_path)
    wl, X, labels, _ = held_out(new, 5000)
    m, _ = metrics(rt, wl, X, labels)
    assert m["contaminants_accepted_as_aluminium"] == 0
    assert m["grade_accuracy"] >= TRANSFER_GRADE_FLOOR and m["family_accuracy"] >= TRANSFER_FAMILY_FLOOR, m
    assert m["unknown_rate_aluminium"] <= TRANSFER_UNKNOWN_CEILING
