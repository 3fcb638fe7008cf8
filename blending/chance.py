"""Chance constraints on blended chemistry: the normal model and its second-order cone.

A limit on the melt holds with probability alpha when the lot chemistries are
independent normal variables (Charnes and Cooper 1959; Gaustad, Li and Kirchain,
Resour. Conserv. Recycl. 52 (2007) 180):

    a . v + a0 + z_alpha * || (d * v, d0) ||_2 <= 0,      z_alpha = Phi^-1(alpha)

a second-order cone for alpha >= 0.5 (Lobo et al., Linear Algebra Appl. 284 (1998)
193). Every tangent of the norm is a valid linear cut (Cauchy-Schwarz):

    || w(v) || >= w(vbar) . w(v) / || w(vbar) ||,     w(v) = (d * v, d0)

which is how :mod:`blending.solver` solves the cone program on HiGHS LPs. This module
holds the probability side only and imports no solver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from blending.errors import InputError


def z_score(confidence: float) -> float:
    """Standard normal quantile Phi^-1(confidence) [-], for a confidence in [0.5, 1)."""
    if not 0.5 <= confidence < 1:
        raise InputError(f"confidence {confidence:g} must be at least 0.5 and below 1")
    return float(norm.ppf(confidence))


def bonferroni(joint_confidence: float, n_limits: int) -> float:
    """Per-limit confidence that guarantees ``joint_confidence`` over ``n_limits`` limits.

    By Boole's inequality the joint probability of violating any limit is at most the
    sum of the single ones, so each limit gets an equal share (1 - alpha) / K of the risk.
    """
    if not 0.5 <= joint_confidence < 1:
        raise InputError(f"joint confidence {joint_confidence:g} must be at least 0.5 and below 1")
    return 1 - (1 - joint_confidence) / max(n_limits, 1)


def joint_lower_bound(groups: Sequence[tuple[str, ...]], risk: Sequence[float]) -> float:
    """A lower bound on the probability that every limit holds [-].

    ``groups[k]`` names the elements limit k constrains, ``risk[k]`` its probability of
    failing. Lot chemistries are independent between elements, so limits on different
    single elements fail independently, and the min and max of one element cannot fail
    together: P(all single-element limits hold) = prod over elements of (1 - the sum of
    that element's risks). Limits on sums of elements (others total, Mn+Cr, Al) are
    added by Boole's inequality, P(A and B) >= P(A) - P(not B). Tighter than Bonferroni's
    1 - sum of all risks, which it never falls below.
    """
    per_element: dict[str, float] = {}
    boole = 0.0
    for elements, r in zip(groups, risk, strict=True):
        if len(elements) == 1:
            per_element[elements[0]] = per_element.get(elements[0], 0.0) + r
        else:
            boole += r
    return float(np.prod([1 - r for r in per_element.values()])) - boole


@dataclass(frozen=True)
class Cone:
    """``a . v + a0 + z || (d * v, d0) || <= 0`` in wt% of the melt."""

    a: np.ndarray
    a0: float
    d: np.ndarray
    d0: float
    z: float

    def sd(self, v: np.ndarray) -> float:
        """Standard deviation of the constrained quantity [wt%]."""
        return float(np.sqrt(np.sum((self.d * v) ** 2) + self.d0 ** 2))

    def mean(self, v: np.ndarray) -> float:
        """Mean of the constrained quantity minus its bound [wt%] (<= 0 inside)."""
        return float(self.a @ v + self.a0)

    def value(self, v: np.ndarray) -> float:
        return self.mean(v) + self.z * self.sd(v)

    def cut(self, vbar: np.ndarray) -> tuple[np.ndarray, float]:
        """Tangent cut ``g . v <= h`` of this cone at ``vbar``."""
        s = self.sd(vbar)
        if self.z == 0 or s == 0:
            return self.a, -self.a0
        return self.a + self.z * self.d ** 2 * vbar / s, -self.a0 - self.z * self.d0 ** 2 / s


