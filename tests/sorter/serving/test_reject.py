import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sorter.serving.card import Thresholds
from sorter.serving.reject import decide, pick_grades, reject_reasons, tune_thresholds

CLASSES = ["5182", "5754", "6061", "copper"]
FAMILIES = {"5182": "5xxx", "5754": "5xxx", "6061": "6xxx", "copper": "non-Al"}
T = Thresholds(min_top_probability=0.5, max_ood_distance=5.0, min_snr_empty=8.0, min_snr=20.0,
               min_al_fraction=0.02, saturation_counts=65535.0, max_non_al_probability=0.05)
GOOD = [500.0, 0.1, 30000.0, 1.0]
NAN, INF = float("nan"), float("inf")


def one(p, q=GOOD):
    return decide(np.array([p]), np.array([q]), CLASSES, FAMILIES, T)[0]


def test_a_clear_piece_is_accepted():
    d = one([0.9, 0.05, 0.03, 0.02])
    assert (d.grade, d.family, d.decision) == ("5182", "5xxx", "accept")


def test_family_is_chosen_on_summed_probability_then_the_grade_inside_it():
    # 6061 is the single most likely grade, but the 5xxx family holds more probability
    d = one([0.3, 0.3, 0.4, 0.0])
    assert d.family == "5xxx" and d.grade in ("5182", "5754")
    assert d.decision == "unknown" and d.reason.startswith("low top probability")


def test_each_reason_in_order():
    p = [0.9, 0.05, 0.03, 0.02]
    assert one(p, [3.0, 0.1, 100.0, 1.0]).reason.startswith("empty shot")
    assert one(p, [500.0, 0.1, 65535.0, 1.0]).reason.startswith("saturation")
    assert one(p, [15.0, 0.1, 3000.0, 1.0]).reason.startswith("too noisy")
    assert one(p, [500.0, 0.001, 3000.0, 1.0]).reason.startswith("weak Al signal")
    assert one([0.9, 0.0, 0.0, 0.1]).reason.startswith("possible contaminant")
    assert one(p, [500.0, 0.1, 3000.0, 9.0]).reason.startswith("out of distribution")
    assert one(p, [500.0, 0.1, 3000.0, float("nan")]).reason.startswith("out of distribution")


def test_a_contaminant_with_no_aluminium_is_accepted_as_a_contaminant():
    d = one([0.0, 0.0, 0.01, 0.99], [500.0, 0.0, 3000.0, 1.0])
    assert (d.grade, d.family, d.decision) == ("copper", "non-Al", "accept")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4).filter(lambda v: sum(v) > 1e-3))
def test_grade_always_belongs_to_the_chosen_family(values):
    p = np.array([values]) / np.sum(values)
    idx, fam_p = pick_grades(p, CLASSES, FAMILIES)
    fam_sums = {f: sum(p[0, i] for i, c in enumerate(CLASSES) if FAMILIES[c] == f) for f in set(FAMILIES.values())}
    assert np.isclose(fam_p[0], max(fam_sums.values()))
    assert np.isclose(fam_sums[FAMILIES[CLASSES[idx[0]]]], max(fam_sums.values()))


def test_tuned_thresholds_reject_little_of_the_validation_set():
    rng = np.random.default_rng(0)
    n = 2000
    labels = rng.choice(CLASSES, n)
    P = np.full((n, 4), 0.02)
    P[np.arange(n), [CLASSES.index(c) for c in labels]] = 0.94
    q = np.column_stack([rng.lognormal(6, 0.3, n), rng.uniform(0.05, 0.2, n), rng.uniform(1e3, 5e4, n),
                         rng.chisquare(5, n) ** 0.5 / 5 ** 0.5])
    t = tune_thresholds(P, q, labels, CLASSES, FAMILIES, saturation_counts=65535.0)
    rejected = [d for d in decide(P, q, CLASSES, FAMILIES, t) if d.decision == "unknown"]
    assert len(rejected) / n <= 0.01
    assert 0 < t.min_al_fraction < 0.05 and t.max_ood_distance > np.quantile(q[:, 3], 0.99)


def test_distance_to_the_chosen_grade_catches_a_contaminant_put_in_an_aluminium_grade():
    p = np.array([[0.97, 0.01, 0.01, 0.01]])
    q = np.array([GOOD])
    dist = np.array([[12.0, 11.0, 10.0, 1.0]])  # near the copper mean, far from 5182's
    assert decide(p, q, CLASSES, FAMILIES, T)[0].decision == "accept"
    d = decide(p, q, CLASSES, FAMILIES, T, dist)[0]
    assert d.decision == "unknown" and d.reason.startswith(("out of distribution", "possible contaminant"))
    far_from_all = decide(p, q, CLASSES, FAMILIES, T, np.array([[12.0, 11.0, 10.0, 20.0]]))[0]
    assert far_from_all.reason.startswith("out of distribution")


def test_an_aluminium_grade_nearer_a_contaminant_mean_is_not_accepted():
    p = np.array([[0.97, 0.01, 0.01, 0.01]])
    dist = np.array([[3.0, 3.5, 4.0, 2.0]])  # within the OOD limit, but copper's mean is nearer
    d = decide(p, np.array([GOOD]), CLASSES, FAMILIES, T, dist)[0]
    assert d.decision == "unknown" and "near the copper class" in d.reason
    clear = decide(p, np.array([GOOD]), CLASSES, FAMILIES, T, np.array([[2.0, 3.5, 4.0, 3.0]]))[0]
    assert clear.decision == "accept"  # copper 1.5x farther than 5182: not a contaminant


def _first_reason(top, non_al, is_al, snr, al_frac, counts, ood):
    """The reject order of the module docstring, one piece at a time, as an if-chain."""
    if snr < T.min_snr_empty:
        return "empty shot"
    if counts >= T.saturation_counts:
        return "saturation"
    if snr < T.min_snr:
        return "too noisy"
    if is_al and al_frac < T.min_al_fraction:
        return "weak Al signal"
    if is_al and non_al > T.max_non_al_probability:
        return "possible contaminant"
    if not ood <= T.max_ood_distance:
        return "out of distribution"
    if top < T.min_top_probability:
        return "low top probability"
    return "p"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4).filter(lambda v: sum(v) > 1e-3),
                          st.sampled_from([3.0, 15.0, 500.0]), st.sampled_from([0.001, 0.1]),
                          st.sampled_from([3000.0, 65535.0]), st.sampled_from([1.0, 9.0])),
                min_size=1, max_size=6))
def test_in_a_batch_each_piece_gets_the_first_reason_that_applies(rows):
    P = np.array([np.array(p) / sum(p) for p, *_ in rows])
    q = np.array([quality for _, *quality in rows])
    grade_idx, _ = pick_grades(P, CLASSES, FAMILIES)
    kinds = ("empty shot", "saturation", "too noisy", "weak Al signal", "possible contaminant",
             "out of distribution", "low top probability")
    got = [next((k for k in kinds if d.reason.startswith(k)), "p") for d in decide(P, q, CLASSES, FAMILIES, T)]
    want = [_first_reason(P[i, g], P[i, 3], CLASSES[g] != "copper", *q[i]) for i, g in enumerate(grade_idx)]
    assert got == want


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3).filter(lambda v: sum(v) > 1e-3),
                          st.sampled_from([3.0, 15.0, 500.0, 500.0]), st.sampled_from([0.001, 0.1, 0.1]),
                          st.sampled_from([3000.0, 3000.0, 65535.0]), st.sampled_from([1.0, 1.0, 9.0]),
                          st.lists(st.one_of(st.floats(0.1, 12.0), st.sampled_from([NAN, INF])), min_size=4,
                                   max_size=4),
                          st.sampled_from([0.0, 0.0, 0.01, 0.3])),          # copper's share: mostly none
                min_size=2, max_size=6),
       st.booleans())
# a NaN or infinite distance (a degenerate covariance, a feature overflow) drawn on every run, not by chance
@example([([0.9, 0.05, 0.05], 500.0, 0.1, 3000.0, 1.0, [NAN, 2.0, 3.0, 9.0], 0.0),
          ([0.9, 0.05, 0.05], 500.0, 0.1, 3000.0, 1.0, [INF, 2.0, 3.0, 9.0], 0.0),
          ([0.9, 0.05, 0.05], 500.0, 0.1, 3000.0, 1.0, [1.0, 2.0, 3.0, NAN], 0.0),
          ([0.9, 0.05, 0.05], 500.0, 0.1, 3000.0, 1.0, [1.0, 2.0, 3.0, 1.0], 0.0)], True)
@example([([0.9, 0.05, 0.05], 500.0, 0.1, 3000.0, NAN, [1.0] * 4, 0.0),
          ([0.9, 0.05, 0.05], 500.0, 0.1, 3000.0, INF, [1.0] * 4, 0.0),
          ([0.9, 0.05, 0.05], 500.0, 0.1, 3000.0, 1.0, [1.0] * 4, 0.0)], False)
def test_a_piece_gets_the_same_decision_alone_as_in_a_batch(rows, with_distance):
    """One spectrum takes a plain-Python path (latency), a batch the vectorised one: same decisions."""
    P = np.array([np.append(np.array(r[0]) / sum(r[0]) * (1 - r[6]), r[6]) for r in rows])
    q = np.array([r[1:5] for r in rows])
    dist = np.array([r[5] for r in rows]) if with_distance else None
    batch = decide(P, q, CLASSES, FAMILIES, T, dist)
    alone = [decide(P[i:i + 1], q[i:i + 1], CLASSES, FAMILIES, T, None if dist is None else dist[i:i + 1])[0]
             for i in range(len(rows))]
    assert alone == batch


def test_a_pair_bar_applies_to_pieces_whose_two_best_grades_are_that_pair():
    t = Thresholds(min_top_probability=0.5, pair_min_top_probability={"5182|5754": 0.98}, max_ood_distance=5.0,
                   min_al_fraction=0.02, max_non_al_probability=0.05)
    pair = np.array([[0.9, 0.09, 0.01, 0.0]])        # 5182 over 5754: needs 0.98
    other = np.array([[0.9, 0.0, 0.1, 0.0]])         # 5182 over 6061: the plain bar, 0.5
    q = np.array([GOOD])
    for P in (pair, other):     # the batch path and the one-spectrum path agree
        one_ = decide(P, q, CLASSES, FAMILIES, t)[0]
        two = decide(np.vstack([P, P]), np.vstack([q, q]), CLASSES, FAMILIES, t)[0]
        assert (one_.decision, one_.reason) == (two.decision, two.reason)
    assert decide(pair, q, CLASSES, FAMILIES, t)[0].reason == "low top probability 0.900 (< 0.980)"
    assert decide(other, q, CLASSES, FAMILIES, t)[0].decision == "accept"


# The out-of-distribution check is written ``not ood <= max`` so that a NaN distance (a singular
# covariance, a feature that overflowed) rejects the piece; ``ood > max`` would accept it. Explicit
# rows, so the batch (vectorised) and the single (plain Python) paths are each pinned on every run.
ODD_DISTANCES = [(NAN, "out of distribution"), (INF, "out of distribution"), (-INF, "p="), (5.0, "p="),
                 (5.0 + 1e-9, "out of distribution")]


def test_a_nan_or_infinite_distance_is_rejected_in_a_batch_and_alone():
    P = np.array([[0.9, 0.05, 0.03, 0.02]] * len(ODD_DISTANCES))
    q = np.array([[*GOOD[:3], ood] for ood, _ in ODD_DISTANCES])
    batch = decide(P, q, CLASSES, FAMILIES, T)
    alone = [one(P[0], q[i]) for i in range(len(ODD_DISTANCES))]
    for (ood, want), b, a in zip(ODD_DISTANCES, batch, alone, strict=True):
        assert b.reason.startswith(want), (ood, b.reason)
        assert a == b
    assert [d.decision for d in batch] == ["unknown", "unknown", "accept", "accept", "unknown"]


def test_a_nan_or_infinite_distance_to_the_chosen_grade_is_rejected_in_a_batch_and_alone():
    # with class distances the check reads the distance to the chosen grade (5182, column 0)
    P = np.array([[0.9, 0.05, 0.03, 0.02]] * 3)
    q = np.array([GOOD] * 3)
    dist = np.array([[NAN, 2.0, 3.0, 9.0], [INF, 2.0, 3.0, 9.0], [1.0, 2.0, 3.0, 9.0]])
    batch = decide(P, q, CLASSES, FAMILIES, T, dist)
    alone = [decide(P[i:i + 1], q[i:i + 1], CLASSES, FAMILIES, T, dist[i:i + 1])[0] for i in range(3)]
    assert alone == batch
    # NaN: out of distribution; inf: copper (9.0) is nearer than the chosen grade, which comes first
    assert [d.reason.split(":")[0] for d in batch] == ["out of distribution", "possible contaminant", "p=0.900"]
    assert [d.decision for d in batch] == ["unknown", "unknown", "accept"]


def test_an_infinitely_far_contaminant_is_not_mistaken_for_an_aluminium_class():
    # the batch path once took the nearest of [inf, inf, inf, inf] (aluminium masked to inf) as
    # class 0, an aluminium grade, and rejected a clear 6061 as "near the 5182 class"
    P = np.array([[0.0, 0.0, 1.0, 0.0]] * 2)
    dist = np.array([[1.0, 1.0, 1.0, INF]] * 2)
    batch = decide(P, np.array([GOOD] * 2), CLASSES, FAMILIES, T, dist)
    alone = decide(P[:1], np.array([GOOD]), CLASSES, FAMILIES, T, dist[:1])
    assert [d.decision for d in batch] == ["accept", "accept"]
    assert alone == batch[:1]


def test_reject_reasons_flags_nan_and_inf_distances_directly():
    quality = np.array([[*GOOD[:3], ood] for ood in (NAN, INF, 1.0)])
    reasons = reject_reasons(np.array([0.9, 0.9, 0.9]), quality, [True] * 3, T)
    assert [r.split(":")[0] for r in reasons] == ["out of distribution", "out of distribution", ""]


def test_a_piece_exactly_on_every_threshold_is_accepted_alone_and_in_a_batch():
    # on a threshold passes (as on a spec limit), except the ADC maximum: reaching it is clipping
    p = [T.min_top_probability, 0.25, 0.2, T.max_non_al_probability]
    on = [T.min_snr, T.min_al_fraction, T.saturation_counts - 1, T.max_ood_distance]
    P, q = np.array([p, p]), np.array([on, on])
    assert one(p, on).decision == "accept"
    assert [d.decision for d in decide(P, q, CLASSES, FAMILIES, T)] == ["accept", "accept"]
    clipped = [T.min_snr, T.min_al_fraction, T.saturation_counts, T.max_ood_distance]
    assert one(p, clipped).reason.startswith("saturation")
    assert decide(np.array([p, p]), np.array([on, clipped]), CLASSES, FAMILIES, T)[1].reason.startswith("saturation")
