"""The accept bar: how sure the top grade must be before a piece goes to a bin, per grade pair.

A piece whose two best grades are A and B is accepted when its top probability reaches the pair's
bar. Each bar is the lowest that keeps the accepted pieces of that pair right at least ``target``
of the time on held-out pieces (pieces the model never trained on), judged by the lower end of
the 95% Wilson score interval, so that the claim is backed by the number of pieces and not only
by the observed share:

    lower = (p + z^2/(2n) - z sqrt(p(1-p)/n + z^2/(4n^2))) / (1 + z^2/n),  z = 1.96

(Wilson, *J. Am. Stat. Assoc.* 22 (1927) 209). With no wrong piece that lower end is n/(n + z^2),
so a pair needs at least ``z^2 target / (1 - target)`` accepted pieces (765 for 99.5%) before any
bar can support the target. The pooled bar ``min_top_probability`` is computed the same way over
every piece; a pair whose own pieces cannot back the target is marked ``supported: false`` and gets
the pooled bar, raised to just above the most probable wrong answer seen in the pair if that is
higher; grade pairs with no held-out pieces take the pooled bar. No bar is below ``floor``.

numpy only; the decision that reads the bars is :func:`sorter.serving.reject.decide`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from blending.errors import InputError
from sorter.serving.reject import pair_key, pick_grades, runner_up

ACCEPT_TARGET = 0.995
FLOOR = 0.5      # a top grade below one half is a coin toss, whatever the data say
Z_95 = 1.959964


def stated(bar: float) -> float:
    """A bar as the card states it: rounded up to 6 decimals, so that rounding never admits a piece."""
    return math.ceil(bar * 1e6 - 1e-9) / 1e6


def wilson_interval(k: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` [-]; (0, 1) when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n), (centre + spread) / (1 + z * z / n)


def pieces_needed(target: float = ACCEPT_TARGET, z: float = Z_95) -> int:
    """Accepted pieces with no wrong one whose Wilson lower end reaches ``target``."""
    return math.ceil(z * z * target / (1 - target))


@dataclass
class PairBar:
    """One grade pair's bar and what backs it."""

    bar: float
    n_pieces: int          # held-out pieces whose two best grades are this pair
    n_accepted: int        # of them, reaching the bar
    n_wrong: int           # accepted but not of the top grade
    wilson_95: tuple[float, float]
    supported: bool        # the interval's lower end reaches the target

    def as_dict(self) -> dict:
        return {"bar": stated(self.bar), "n_pieces": self.n_pieces, "n_accepted": self.n_accepted,
                "n_wrong": self.n_wrong, "wilson_95": [round(v, 5) for v in self.wilson_95],
                "supported": self.supported}


@dataclass
class AcceptCalibration:
    """The bars and their evidence; :meth:`report` is what the card's metrics keep."""

    target: float
    pooled: PairBar
    pairs: dict[str, PairBar] = field(default_factory=dict)

    @property
    def pair_bars(self) -> dict[str, float]:
        return {k: stated(v.bar) for k, v in sorted(self.pairs.items())}

    def report(self, source: str = "") -> dict:
        return {"target": self.target, "interval": "Wilson 95%", "source": source,
                "pieces_needed_per_pair": pieces_needed(self.target),
                "pooled": self.pooled.as_dict(),
                "pairs": {k: v.as_dict() for k, v in sorted(self.pairs.items())}}


def _bar(top: np.ndarray, right: np.ndarray, target: float, floor: float) -> PairBar:
    """The lowest bar on ``top`` whose accepted pieces' Wilson lower end reaches ``target``."""
    order = np.argsort(-top, kind="stable")
    top, right = top[order], right[order]
    n_acc = np.arange(1, top.size + 1)
    wrong = np.cumsum(~right)
    candidates = []  # accepting the first i+1 pieces: bar = top[i]; ties accept together, so take tie ends
    for i in range(top.size):
        if i + 1 < top.size and top[i + 1] == top[i]:
            continue
        if top[i] < floor:
            break
        lo, _ = wilson_interval(int(n_acc[i] - wrong[i]), int(n_acc[i]))
        candidates.append((i, lo))
    ok = [i for i, lo in candidates if lo >= target]
    if ok:
        i = max(ok)     # the lowest bar (most pieces accepted) that still supports the target
        supported = True
    else:
        # not enough pieces to back the target: accept only above the most probable wrong answer
        first_wrong = np.flatnonzero(~right)
        limit = top[first_wrong[0]] if first_wrong.size else -np.inf
        above = [i for i, _ in candidates if top[i] > limit]
        i = max(above) if above else -1
        supported = False
    if i < 0:   # the most probable piece is already wrong (or none reaches the floor): accept none seen
        bar = float(np.nextafter(top[0], 2.0)) if top.size else floor
        return PairBar(max(bar, floor), int(top.size), 0, 0, (0.0, 1.0), False)
    k_right = int(n_acc[i] - wrong[i])
    return PairBar(max(float(top[i]), floor), int(top.size), int(n_acc[i]), int(wrong[i]),
                   wilson_interval(k_right, int(n_acc[i])), supported)


def _at(top: np.ndarray, right: np.ndarray, bar: float, target: float) -> PairBar:
    """What a given bar does to one pair's pieces."""
    accepted = top >= bar
    n, wrong = int(accepted.sum()), int((accepted & ~right).sum())
    lo, hi = wilson_interval(n - wrong, n)
    return PairBar(bar, int(top.size), n, wrong, (lo, hi), lo >= target)


def calibrate_accept(probabilities: np.ndarray, labels: np.ndarray, classes: list[str], families: dict[str, str],
                     *, target: float = ACCEPT_TARGET, floor: float = FLOOR) -> AcceptCalibration:
    """Accept bars per grade pair from held-out pieces of aluminium grades.

    Parameters
    ----------
    probabilities : ndarray, shape (n, C)
        The model's grade probabilities for held-out pieces [-].
    labels : ndarray, shape (n,)
        Their true grades; pieces of contaminants (family ``non-Al``) are left out (the contaminant
        checks of the reject option guard those).
    target : float
        Share of accepted pieces that must be right [-], in (0.5, 1).
    """
    if not 0.5 < target < 1.0:
        raise InputError(f"{target}: the share of accepted pieces that must be right lies between 0.5 and 1",
                         field="target")
    P = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels).astype(str)
    if P.ndim != 2 or P.shape != (labels.size, len(classes)):
        raise InputError(f"expected shape ({labels.size}, {len(classes)}), got {P.shape}", field="probabilities")
    al = np.array([families.get(g, "non-Al") != "non-Al" for g in labels])
    P, labels = P[al], labels[al]
    grade_idx, _ = pick_grades(P, classes, families)
    second = runner_up(P, grade_idx)
    top = P[np.arange(len(grade_idx)), grade_idx]
    right = np.asarray(classes)[grade_idx] == labels
    keys = np.array([pair_key(classes[g], classes[s]) for g, s in zip(grade_idx.tolist(), second.tolist(),
                                                                        strict=True)])
    pooled = _bar(top, right, target, floor)
    pairs = {}
    for k in sorted(set(keys.tolist())):
        t, r = top[keys == k], right[keys == k]
        own = _bar(t, r, target, floor)
        if not own.supported:
            worst = t[~r].max() if (~r).any() else -np.inf
            own = _at(t, r, max(pooled.bar, float(np.nextafter(worst, 2.0))), target)
        pairs[k] = own
    return AcceptCalibration(target, pooled, pairs)
