"""HiGHS set-up for every solve of the project: options, silent instances, and a stdout guard.

Every HiGHS instance is made here, so the options agree (HiGHS sizes one thread pool per
process by its first run) and nothing HiGHS prints from C++ reaches standard output, where
it would corrupt ``aluloop blend --json``. Both guards work on process-wide file
descriptors, so they are reference-counted under one lock: solves may run from several
threads of one process at once.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Iterator

import highspy
import numpy as np
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import csr_array

from blending.errors import SolverError

# Tighter than HiGHS's defaults (1e-7) so the mean chemistry holds within 1e-9 wt%.
HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
# Presolve off in the kept-alive LP so each round restarts the simplex from the last basis.
# No cost perturbation in the dual simplex: after a stage's objective change the warm basis
# is dual infeasible, and perturbed costs send HiGHS through many extra degenerate pivots.
HIGHS_LP_OPTIONS = {**HIGHS_OPTIONS, "presolve": "off", "dual_simplex_cost_perturbation_multiplier": 0.0}
# One thread for every HiGHS instance: these LPs re-solve in well under a millisecond, and
# handing work to HiGHS's thread pool costs more than the solve. HiGHS sizes one pool per
# process by the first run, so all instances must agree.
HIGHS_THREADS = 1
MILP_OPTIONS = {"mip_rel_gap": 1e-9, "mip_feasibility_tolerance": 1e-9, **HIGHS_OPTIONS}

_lock = threading.Lock()
_banner_shown = False
_guards = 0            # solves now inside stdout_to_stderr
_saved_stdout: int | None = None


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance with the project's thread count.

    HiGHS writes a copyright banner from C++ when the first instance of a process is made,
    before any option can be set; the file descriptors point at /dev/null for that one
    construction.
    """
    global _banner_shown
    with _lock:
        if not _banner_shown:
            with _fds_to_devnull():
                h = highspy.Highs()
            _banner_shown = True
        else:
            h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", HIGHS_THREADS)
    return h


@contextlib.contextmanager
def _fds_to_devnull() -> Iterator[None]:
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no file descriptors to protect (an embedding host)
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        _flush()
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()


def _stdout_fd() -> int | None:
    try:
        return sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send the process's C-level stdout to stderr while any solve is inside this block.

    HiGHS's MIP solver prints ``HighsMipSolverData::transformNewIntegerFeasibleSolution
    tmpSolver.run();`` with printf whatever its output options say (ERGO-Code/HiGHS#2783,
    jump-dev/HiGHS.jl#312). The redirection is process-wide, so the first thread in makes it
    and the last one out undoes it.
    """
    global _guards, _saved_stdout
    fd = _stdout_fd()
    if fd is None:  # no real stdout: nothing to protect
        yield
        return
    with _lock:
        if _guards == 0:
            _flush()
            _saved_stdout = os.dup(fd)
            os.dup2(2, fd)
        _guards += 1
    try:
        yield
    finally:
        with _lock:
            _guards -= 1
            if _guards == 0 and _saved_stdout is not None:
                _flush()
                os.dup2(_saved_stdout, fd)
                os.close(_saved_stdout)
                _saved_stdout = None


# scipy passes HiGHS options it does not list verbatim, with a RuntimeWarning; we mean them.
# A filter set once at import, not per call: warnings.catch_warnings() is not thread-safe.
warnings.filterwarnings("ignore", message=r".*Unrecognized options.*", category=RuntimeWarning,
                        module=r"blending\.solver\.highs")


def solve_milp(cost: np.ndarray, matrix: csr_array, row_lo: np.ndarray, row_hi: np.ndarray,
               integrality: np.ndarray, col_lo: np.ndarray, col_hi: np.ndarray) -> np.ndarray | None:
    """A MILP on scipy's HiGHS: the solution, or None when it is infeasible."""
    with stdout_to_stderr():
        res = milp(cost, constraints=[LinearConstraint(matrix, row_lo, row_hi)], integrality=integrality,
                   bounds=(col_lo, col_hi), options=MILP_OPTIONS)
    if res.status == 2 or res.x is None and res.status != 0:
        return None
    if res.status != 0:
        raise SolverError(f"HiGHS MILP failed: {res.message}")
    return res.x
