"""The cone program the charge models hand to the solver, and what the solver hands back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from blending.chance import Cone

# Largest violation of a chance constraint left at convergence [wt%].
CONE_TOLERANCE_WT_PCT = 1e-9
# Cone tolerance of the MILP rounds, before the integers are fixed [wt%].
MILP_TOLERANCE_WT_PCT = 1e-5
MAX_MILP_ROUNDS = 50
# Weight of the second stage in the MILP that picks unit counts, per unit of the first.
MILP_TIE_BREAK = 1e-7

@dataclass
class LinearProgram:
    """min c.v subject to lo <= A v <= hi, bounds, integrality, and cones (chance limits)."""

    c: np.ndarray
    A: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integrality: np.ndarray
    cones: Sequence[Cone]


@dataclass(frozen=True)
class CutSolution:
    status: str                      # "optimal", "infeasible" or "failed"
    v: np.ndarray | None
    objective: float | None
    row_marginals: np.ndarray | None  # d objective / d row bound, per linear row (signed)
    cone_marginals: np.ndarray | None  # d objective / d (cone right-hand side), per cone, <= 0 when binding
    rounds: int
    max_violation: float
    upper_marginals: np.ndarray | None = None  # d objective / d (variable upper bound)
    message: str = ""                # why, when status is "failed" (numerical trouble)
    stage: int | None = None         # the lexicographic stage that failed


class ConeStack:
    """All cones of a program as arrays, for evaluating them together."""

    def __init__(self, cones: Sequence[Cone], n: int):
        self.A = np.array([c.a for c in cones]).reshape(len(cones), n)
        self.a0 = np.array([c.a0 for c in cones])
        self.D = np.array([c.d for c in cones]).reshape(len(cones), n)
        self.d0 = np.array([c.d0 for c in cones])
        self.z = np.array([c.z for c in cones])

    def values(self, v: np.ndarray) -> np.ndarray:
        """Every cone's value at ``v`` [wt%]; positive where violated."""
        return self.A @ v + self.a0 + self.z * np.sqrt(((self.D * v) ** 2).sum(axis=1) + self.d0 ** 2)


def cone_values(cones: Sequence[Cone], v: np.ndarray) -> np.ndarray:
    """Every cone's value at ``v`` [wt%]; positive where violated."""
    return np.array([c.value(v) for c in cones]) if len(cones) else np.zeros(0)


