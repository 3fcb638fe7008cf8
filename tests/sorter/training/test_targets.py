"""The issue's accuracy targets on seeded held-out simulated piece spectra (plasma, noise and offsets
not seen in training), for both bundled models, an instrument they never saw, and a model retrained on a
new instrument profile. Sizes are small to fit the test budget; ``bench/classify_accuracy.py`` runs the
same checks with more spectra, set by set.

Asserted as the issue states them: grade >= 98%, family >= 99.5% and unknown <= 2% on the three held-out
sets pooled (the bench, set by set with 30 pieces per grade, finds every set met for both models); no
contaminant accepted as aluminium; family >= 95% on an unseen instrument. Composition MAE <= 10% of the
spec range is NOT met: its test holds the models to a ceiling a little above what they measure, so a
regression fails, and says so in its name. The model retrained on 200 spectra per grade meets the targets
set by set in the bench, but its training is not bit-stable across library versions and its margins are a
piece or two: its test holds it to floors under what it measures, and says so in its name."""

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


# the targets
GRADE_TARGET, FAMILY_TARGET, UNKNOWN_TARGET = 0.98, 0.995, 0.02
# measured 0.050 / 0.053 (plasma-state terms and indicator windows; 0.059 / 0.067 before them, 0.064 / 0.072 with
# bands next to each window, 0.076 / 0.067 on 1,000 pieces per grade, 0.127 / 0.116 before the plasma-state
# experts); the issue asks <= 0.10 for every grade and element
COMPOSITION_MEDIAN_CEILING = 0.10
# the model retrained on 200 spectra per grade from a new instrument: measured 0.987 / 0.996 / 0.000 on the
# pooled sets here (0.982 / 0.996 / 0.003 before the indicator windows), grade 0.982-1.000 set by set in the bench
TRANSFER_GRADE_FLOOR, TRANSFER_FAMILY_FLOOR, TRANSFER_UNKNOWN_CEILING = 0.96, 0.98, 0.03


def test_grade_and_family_accuracy_on_unseen_conditions_meet_the_targets_pooled(bundled_held_out):
    m, *_ = bundled_held_out
    assert m["grade_accuracy"] >= GRADE_TARGET, m["per_class"]
    assert m["family_accuracy"] >= FAMILY_TARGET
    assert m["family_accuracy"] >= m["grade_accuracy"]  # family is chosen first, so it is never worse


def test_unknown_rate_on_aluminium_pieces_meets_the_target_pooled(bundled_held_out):
    m, *_ = bundled_held_out
    assert m["unknown_rate_aluminium"] <= UNKNOWN_TARGET, m["unknown_reasons"]


def test_no_contaminant_is_ever_accepted_as_aluminium(bundled_held_out):
    m, *_ = bundled_held_out
    assert m["n_contaminants"] == 6 * N_PER_GRADE * len(HELD_OUT)
    assert m["contaminants_accepted_as_aluminium"] == 0


def test_composition_error_regression_ceiling(bundled, bundled_held_out):
    """MAE of each major element as a share of the grade's catalogue range, on the held-out conditions.

    The issue's target (<= 0.10 for each) is NOT met, and at the cool edge it cannot be: an estimator
    trained on that set's own conditions keeps broadband 7075 Cr at 0.12-0.16 of its range
    (``research/composition_oracle.py``; README, "Measured"). This holds the median share to a
    ceiling a little above what the bundled model measures, and checks that for correctly graded
    pieces the per-grade clip keeps the mean error under one range width.
    """
    from sorter.training.evaluation import spec_ranges

    _, results, labels, batches = bundled_held_out
    elements = bundled.card.elements
    pred = np.array([[r.composition_wt_pct[e] for e in elements] for r in results], dtype=float)
    true = np.concatenate([[[b.composition_wt_pct[i, b.elements.index(e)] if e in b.elements else 0.0
                             for e in elements] for i in range(len(b))] for b in batches])
    right = np.array([r.grade for r in results]) == labels
    shares, shares_right = [], []
    for g in DEFAULT_GRADES:
        rows = labels == g
        for e, (lo, hi) in spec_ranges(g).items():
            if e in elements:
                j = elements.index(e)
                shares.append(np.abs(pred[rows, j] - true[rows, j]).mean() / (hi - lo))
                if (rows & right).any():
                    shares_right.append(np.abs(pred[rows & right, j] - true[rows & right, j]).mean() / (hi - lo))
    assert len(shares) >= 25
    assert np.median(shares) <= COMPOSITION_MEDIAN_CEILING, sorted(shares)
    # a correctly graded piece's estimate is clipped into that grade's range, so it is off by less than the range
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
