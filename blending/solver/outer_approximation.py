"""Polyhedral outer approximation of the chance constraints in an extended formulation.

A chance constraint ``a.v + a0 + z ||w(v)|| <= 0`` with ``w = (d_1 v_1, ..., d_n v_n, d0)``
is the cone ``||w|| <= tau`` with ``tau = -(a.v + a0) / z``. Cutting it as it stands
(Kelley) converges slowly in 60 dimensions; disaggregating it first,

    sum_i rho_i <= tau,      w_i^2 / tau <= rho_i     (one small cone per lot and limit)

makes every cut a three-variable tangent ``rho_i >= 2 u w_i - u^2 tau`` at the ratio
``u = w_i / tau`` in [0, 1], so the polyhedral approximation becomes tight in a few
rounds (Vielma, Dunning, Huchette and Lubin, Math. Prog. Comp. 9 (2017) 369;
Kelley 1960). Rounds: solve the LP (or MILP) on HiGHS, cut every small cone violated
at the solution, stop when every original chance constraint holds to tolerance, or
(LP rounds) as soon as the LP's active set gives a certified optimum
(:mod:`blending.solver.active_set`): the last rounds only halve the error in the small
cones' ratios each, where Newton's method on the active set is exact in a few steps.
"""

from __future__ import annotations

import highspy
import numpy as np
from scipy.sparse import coo_array, csr_array

from blending.errors import SolverError
from blending.solver.active_set import KKTPoint, kkt_point
from blending.solver.highs import HIGHS_LP_OPTIONS, new_highs, solve_milp

# Starting ratios u = w_i / tau for each small cone; refined by the rounds.
SEED_RATIOS: tuple[float, ...] = ()
MAX_ROUNDS = 100
# After this many rounds a violation within STALL_FACTOR x tolerance is accepted ...
STALL_ROUNDS = 30
STALL_FACTOR = 10.0
# ... and sooner when it has not halved in STALL_WINDOW rounds (cuts halve it each round while
# they help; on a 5-heat campaign's cost stage it sat at 1.43e-9 wt% from round 8 to round 30,
# 22 LP solves that changed nothing: HiGHS's 1e-10 row tolerance, not the cuts, is the limit).
STALL_WINDOW = 3
# Small-cone violations below this are not cut again [wt% of melt].
CUT_TOLERANCE = 1e-13
# An LP solution whose chance constraints hold to this [wt%] has its active set tried for a
# certified optimum; further off, its active set was rarely the optimum's in the 60-lot
# bench heats, and a failed try costs about a third of an LP solve.
POLISH_BELOW = 1e-2
# Programs with more variables than this are not polished: the Newton step is dense (cubic in
# the free lots), and on a campaign of 25 heats it cost 10 s a try while the active set of 25
# heats at once needed more corrections than MAX_CHANGES allows, so it never certified.
POLISH_MAX_VARIABLES = 1200
# A cut whose row's dual at a program's last LP solution is above this is carried to the next
# program by a CutPool: the cuts that shape the optimum, not the hundreds left slack behind it.
POOL_DUAL = 1e-12
# What solve_lp changes for its retries after numerical trouble (a cold start, then presolve).
RETRIES: tuple[dict[str, object], ...] = ({}, {"presolve": "on"})


class CutPool:
    """Tangent cuts of small cones carried from one solve to the next of a program with the same
    limits over the same lots (the next heat of an alloy in a greedy campaign, a respread of
    its risk).

    A cut ``rho >= 2 u w - u^2 tau`` is a tangent of the small cone ``w^2 <= rho tau`` at
    ``w = u tau``: valid for any (w, tau >= 0), since ``(w - u tau)^2 >= 0``. The small cone
    itself holds neither the confidence (z only enters the row that defines tau) nor the
    stock bounds, so a cut stays a valid outer approximation for any z and any bounds; it is
    stored by (limit k, lot i, ratio u) and put in again against the new program's own
    columns, so even a lot's sd (its d) may differ. Only the cuts of the latest solve are kept
    (the seeded ones included), so the pool does not grow without bound over a long schedule.
    """

    def __init__(self) -> None:
        self.k = np.zeros(0, dtype=int)
        self.i = np.zeros(0, dtype=int)
        self.u = np.zeros(0)

    def __len__(self) -> int:
        return int(self.u.size)

    def store(self, k: np.ndarray, i: np.ndarray, u: np.ndarray) -> None:
        self.k, self.i, self.u = k.astype(int), i.astype(int), u.astype(float)


class Lifted:
    """The extended LP of a :class:`blending.solver.program.LinearProgram`.

    Columns: v (n) | tau (one per uncertain cone) | rho (one per small cone, added with
    its first cut). Rows: the program's own rows, the mean row of each certain cone,
    tau's defining equality, the sum row, then the cuts (and any rows added later).

    A small cone that was never cut has no rho column: its rho would sit at zero, so
    the column would only make every simplex pricing pass longer (about 1,200 of them
    in a 60-lot, 16-element heat, of which the rounds touch a few hundred).
    """

    def __init__(self, lp, lower: np.ndarray, upper: np.ndarray, pool: CutPool | None = None):
        self.lp = lp
        n = lp.c.size
        self.n = n
        cones = lp.cones
        self.uncertain = [k for k, c in enumerate(cones) if c.z > 0 and (np.any(c.d > 0) or c.d0 > 0)]
        self.tau_col = {k: n + j for j, k in enumerate(self.uncertain)}
        # small cones: (cone k, lot i or -1 for the heel, d), lots in order then the heel
        pair_k, pair_i, pair_d = [], [], []
        for k in self.uncertain:
            c = cones[k]
            lots = np.flatnonzero(c.d > 0)
            if c.d0 > 0:
                lots = np.append(lots, -1)
            pair_k.append(np.full(lots.size, k))
            pair_i.append(lots)
            pair_d.append(np.where(lots >= 0, c.d[np.maximum(lots, 0)], c.d0))
        self.pair_k = np.concatenate(pair_k).astype(int) if pair_k else np.zeros(0, dtype=int)
        self.pair_i = np.concatenate(pair_i).astype(int) if pair_i else np.zeros(0, dtype=int)
        self.pair_d = np.concatenate(pair_d).astype(float) if pair_d else np.zeros(0)
        self.n_pairs = self.pair_k.size
        self.rho_col = np.full(self.n_pairs, -1)          # -1: no cut yet, so no column
        self.n_cols = n + len(self.uncertain)
        self.pair_tau = n + np.searchsorted(np.array(self.uncertain, dtype=int), self.pair_k)

        rows, lo, hi = [], [], []
        A = np.asarray(lp.A, dtype=float)
        for r in range(A.shape[0]):
            cols = np.flatnonzero(A[r])
            rows.append((cols, A[r, cols]))
            lo.append(lp.row_lo[r])
            hi.append(lp.row_hi[r])
        self.n_base_rows = len(rows)
        # rows on v alone (the program's, certain limits' mean rows, rows added later):
        # their indices and coefficients, for the Newton step on the active set
        self.v_rows: list[int] = list(range(len(rows)))
        self._v_coeffs: list[np.ndarray] = list(A)
        self.cone_row = {}
        for k, c in enumerate(cones):
            cols = np.flatnonzero(c.a)
            if k in self.tau_col:      # z tau + a.v = -a0
                rows.append((np.append(cols, self.tau_col[k]), np.append(c.a[cols], c.z)))
                lo.append(-c.a0)
                hi.append(-c.a0)
            else:                      # certain: the mean row is the constraint
                rows.append((cols, c.a[cols]))
                lo.append(-np.inf)
                hi.append(-c.a0)
                self.v_rows.append(len(rows) - 1)
                self._v_coeffs.append(np.asarray(c.a, dtype=float))
            self.cone_row[k] = len(rows) - 1
        first_sum_row = len(rows)
        for k in self.uncertain:       # sum rho - tau <= 0 (rho columns join with their first cut)
            rows.append((np.array([self.tau_col[k]]), np.array([-1.0])))
            lo.append(-np.inf)
            hi.append(0.0)
        self.pair_sum_row = first_sum_row + self.pair_tau - n
        self.n_fixed_rows = len(rows)

        self.v_lower, self.v_upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        # the certified optimum the last rounds ended on (None if they ended on an LP solution)
        self.kkt: KKTPoint | None = None
        self.kkt_x = np.zeros(0)
        self.col_lo = np.concatenate([lower, np.zeros(self.n_cols - n)])
        self.col_hi = np.concatenate([upper, np.full(self.n_cols - n, np.inf)])
        self.cost = np.concatenate([lp.c, np.zeros(self.n_cols - n)])
        self.integrality = np.concatenate([lp.integrality, np.zeros(self.n_cols - n, dtype=int)])

        h = new_highs()
        for key, value in HIGHS_LP_OPTIONS.items():
            h.setOptionValue(key, value)
        inf = highspy.kHighsInf
        h.addVars(self.n_cols, np.where(np.isfinite(self.col_lo), self.col_lo, -inf),
                  np.where(np.isfinite(self.col_hi), self.col_hi, inf))
        h.changeColsCost(self.n_cols, np.arange(self.n_cols, dtype=np.int32), self.cost)
        self.h = h
        # the rows as coordinate chunks (for the MILP's matrix) and their bounds
        self.n_rows = 0
        self._ri: list[np.ndarray] = []
        self._ci: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []
        self._push(rows, lo, hi)
        for u in SEED_RATIOS:
            self._cuts(np.arange(self.n_pairs), np.full(self.n_pairs, u))
        # every cut made, as (small cone, ratio), for a CutPool
        self._cut_js: list[np.ndarray] = []
        self._cut_us: list[np.ndarray] = []
        self._cut_rows: list[np.ndarray] = []
        if pool is not None and len(pool):
            self.seed(pool)

    def seed(self, pool: CutPool) -> None:
        """Put in the cuts of ``pool`` on this program's small cones of the same (limit, lot);
        cuts on a pair this program lacks (a lot with no sd here) are dropped."""
        if not self.n_pairs:
            return
        width = int(max(self.pair_i.max(initial=0), pool.i.max(initial=0))) + 2
        mine = self.pair_k * width + (self.pair_i + 1)
        theirs = pool.k * width + (pool.i + 1)
        order = np.argsort(mine)
        at = np.searchsorted(mine[order], theirs)
        at = np.minimum(at, mine.size - 1)
        found = mine[order][at] == theirs
        self._cuts(order[at[found]], pool.u[found])

    def export(self, pool: CutPool) -> None:
        """Store the cuts of this program (seeded ones included) that hold with equality at
        the last LP solution in ``pool``: the slack ones only grew the next program's LPs
        (on issue 31's 6061 heats, 1,500 seeded rows made each LP 3x slower)."""
        if not self._cut_js:
            return
        js, us = np.concatenate(self._cut_js), np.concatenate(self._cut_us)
        rows = np.concatenate(self._cut_rows)
        if self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            tight = np.abs(np.asarray(self.h.getSolution().row_dual)[rows]) > POOL_DUAL
            js, us = js[tight], us[tight]
        pool.store(self.pair_k[js], self.pair_i[js], us)

    def _rho_columns(self, js: np.ndarray) -> np.ndarray:
        """The rho columns of small cones ``js``, adding those not made yet (cost 0,
        rho >= 0, coefficient 1 in their cone's sum row)."""
        new = np.unique(js[self.rho_col[js] < 0])
        if new.size:
            m = new.size
            cols = self.n_cols + np.arange(m)
            rows = self.pair_sum_row[new]
            self.h.addCols(m, np.zeros(m), np.zeros(m), np.full(m, highspy.kHighsInf), m,
                           np.arange(m, dtype=np.int32), rows.astype(np.int32), np.ones(m))
            self.rho_col[new] = cols
            self.n_cols += m
            self.col_lo = np.concatenate([self.col_lo, np.zeros(m)])
            self.col_hi = np.concatenate([self.col_hi, np.full(m, np.inf)])
            self.cost = np.concatenate([self.cost, np.zeros(m)])
            self.integrality = np.concatenate([self.integrality, np.zeros(m, dtype=int)])
            self._ri.append(rows)
            self._ci.append(cols)
            self._vals.append(np.ones(m))
        return self.rho_col[js]

    def rho(self, x: np.ndarray) -> np.ndarray:
        """rho of every small cone at the lifted point ``x`` (zero where it has no column)."""
        have = self.rho_col >= 0
        return np.where(have, x[np.where(have, self.rho_col, 0)], 0.0)

    # -- rows ---------------------------------------------------------------------------------
    def _push(self, rows, lo, hi) -> None:
        """Add rows given as (columns, coefficients) pairs."""
        if not rows:
            return
        lengths = np.array([len(c) for c, _ in rows])
        index = np.concatenate([c for c, _ in rows])
        value = np.concatenate([v for _, v in rows])
        self._add(lengths, index, value, np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))

    def _add(self, lengths: np.ndarray, index: np.ndarray, value: np.ndarray, lo: np.ndarray,
             hi: np.ndarray) -> None:
        """Add rows in compressed form (entries per row, column indices, coefficients)."""
        m = lengths.size
        inf = highspy.kHighsInf
        starts = np.concatenate([[0], np.cumsum(lengths[:-1])]).astype(np.int32)
        index = index.astype(np.int32)
        value = value.astype(float)
        self.h.addRows(m, np.where(np.isfinite(lo), lo, -inf), np.where(np.isfinite(hi), hi, inf),
                       index.size, starts, index, value)
        self._ri.append(self.n_rows + np.repeat(np.arange(m), lengths))
        self._ci.append(index)
        self._vals.append(value)
        self.row_lo.extend(lo.tolist())
        self.row_hi.extend(hi.tolist())
        self.n_rows += m

    def _cut(self, j: int, u: float) -> None:
        """rho_j >= 2 u w_j - u^2 tau, w_j = d v_i (lot) or d0 (heel)."""
        self._cuts(np.array([j]), np.array([u]))

    def _cuts(self, js: np.ndarray, u: np.ndarray) -> None:
        """The tangent cuts of small cones ``js`` at ratios ``u``, built as arrays: a round
        adds hundreds, and one Python tuple per cut was a tenth of the solve time."""
        if js.size == 0:
            return
        if hasattr(self, "_cut_js"):
            self._cut_js.append(np.asarray(js))
            self._cut_us.append(np.asarray(u, dtype=float))
            self._cut_rows.append(self.n_rows + np.arange(js.size))
        i, d = self.pair_i[js], self.pair_d[js]
        lot = i >= 0
        # lot: 2 u d v_i - u^2 tau - rho <= 0; heel: -u^2 tau - rho <= -2 u d0
        cols = np.stack([np.maximum(i, 0), self.pair_tau[js], self._rho_columns(js)], axis=1)
        vals = np.stack([2 * u * d, -u * u, -np.ones(js.size)], axis=1)
        hi = np.where(lot, 0.0, -2 * u * d)
        keep = np.ones(cols.shape, dtype=bool)
        keep[~lot, 0] = False       # the heel's cut has no lot column
        self._add(np.where(lot, 3, 2), cols[keep], vals[keep], np.full(js.size, -np.inf), hi)

    def separate(self, x: np.ndarray, tol: float, violated: np.ndarray) -> int:
        """Cut the small cones of the ``violated`` chance constraints at the lifted point
        ``x``; the number of cuts. Cones that hold are left alone: their rho may take any
        split of a slack tau, and cutting them would only grow the LP."""
        if not self.n_pairs:
            return 0
        tau = np.maximum(x[self.pair_tau], 0.0)
        w = np.where(self.pair_i >= 0, self.pair_d * x[np.maximum(self.pair_i, 0)], self.pair_d)
        rho = self.rho(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.where(tau > 0, w * w / tau, np.where(w > 0, np.inf, 0.0))
            u = np.where(tau > 0, np.minimum(w / tau, 1.0), 1.0)
        mine = np.zeros(self.pair_k.size, dtype=bool) if violated.size == 0 else self._in_cones(violated)
        js = np.flatnonzero(mine & (need - rho > max(tol * 1e-3, CUT_TOLERANCE)))
        self._cuts(js, np.where(np.isfinite(u[js]), u[js], 1.0))
        return int(js.size)

    def _in_cones(self, cones: np.ndarray) -> np.ndarray:
        """Which small cones belong to the chance constraints ``cones``."""
        flag = np.zeros(len(self.lp.cones), dtype=bool)
        flag[cones] = True
        return flag[self.pair_k]

    # -- changes between stages ---------------------------------------------------------------
    def set_objective(self, c: np.ndarray) -> None:
        """Minimise ``c . v`` (the lifted columns cost nothing)."""
        self.cost[:self.n] = c
        self.h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), self.cost[:self.n])

    def add_row(self, coeffs: np.ndarray, lo: float, hi: float) -> int:
        """A row on v, e.g. an earlier stage's objective held at its optimum; its index."""
        cols = np.flatnonzero(coeffs)
        self._push([(cols, np.asarray(coeffs, dtype=float)[cols])], [lo], [hi])
        self.v_rows.append(self.n_rows - 1)
        self._v_coeffs.append(np.asarray(coeffs, dtype=float))
        return self.n_rows - 1

    def set_row_bounds(self, index: int, lo: float, hi: float) -> None:
        """Move a row's bounds, e.g. the recycled-content floor of a Pareto sweep; the cuts
        found so far stay valid, so each further point starts from a tight approximation."""
        inf = highspy.kHighsInf
        self.row_lo[index], self.row_hi[index] = lo, hi
        self.h.changeRowBounds(index, lo if np.isfinite(lo) else -inf, hi if np.isfinite(hi) else inf)

    # -- solves -------------------------------------------------------------------------------
    def set_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        inf = highspy.kHighsInf
        self.v_lower, self.v_upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
        self.kkt = None    # an optimum under other bounds is no start: e.g. unit counts just fixed
        idx = np.arange(self.n, dtype=np.int32)
        self.h.changeColsBounds(self.n, idx, np.where(np.isfinite(lower), lower, -inf),
                                np.where(np.isfinite(upper), upper, inf))

    def solve_lp(self):
        """The LP's solution, or None when it is infeasible.

        A warm-started simplex can end in numerical trouble (HiGHS's status "Unknown": the
        unscaled solution misses the 1e-10 tolerances after cleanup); the LP is then solved
        again from scratch, and once more with presolve on, before giving up."""
        status = self._run()
        for retry in RETRIES:
            if status in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kInfeasible):
                break
            self.h.clearSolver()
            for key, value in retry.items():
                self.h.setOptionValue(key, value)
            status = self._run()
            for key in retry:
                self.h.setOptionValue(key, HIGHS_LP_OPTIONS[key])
        if status == highspy.HighsModelStatus.kInfeasible:
            return None
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolverError(f"HiGHS LP failed: {self.h.modelStatusToString(status)}, also from a cold start "
                              "and with presolve")
        return np.array(self.h.getSolution().col_value)

    def _run(self):
        if self.h.run() == highspy.HighsStatus.kError and self._other_scheduler():
            self.h.run()
        return self.h.getModelStatus()

    def polish(self, x: np.ndarray, stack, tol: float, binding: np.ndarray | None = None) -> np.ndarray | None:
        """The cone program's optimum by Newton's method on the active set at the lifted
        point ``x`` (:func:`blending.solver.active_set.kkt_point`): ``x`` with the optimum's v, or
        None without a certificate; the certified point is kept in ``kkt``. The binding
        chance constraints are ``binding``, by default those whose mean row carries a dual
        in the LP just solved."""
        if binding is None:
            row_dual = np.array(self.h.getSolution().row_dual)
            cone_dual = np.abs(row_dual[[self.cone_row[k] for k in self.uncertain]])
            binding = np.array(self.uncertain, dtype=int)[cone_dual > 1e-12 * max(1.0, cone_dual.max(initial=0.0))]
        A = np.array(self._v_coeffs).reshape(len(self.v_rows), self.n)
        lo = np.array([self.row_lo[r] for r in self.v_rows])
        hi = np.array([self.row_hi[r] for r in self.v_rows])
        self.kkt = kkt_point(self.cost[:self.n], x[:self.n], self.v_lower, self.v_upper, A, lo, hi, stack,
                             binding, tol)
        if self.kkt is None:
            return None
        self.kkt_x = x.copy()
        self.kkt_x[:self.n] = self.kkt.v
        return self.kkt_x

    def _other_scheduler(self) -> bool:
        """HiGHS runs every instance of a process on one thread pool, sized by the first
        run; when another part of the process started it with more threads than our
        ``threads`` option, HiGHS refuses to run. Start a new pool then; True if it did."""
        if self.h.getModelStatus() != highspy.HighsModelStatus.kNotset:
            return False
        highspy.Highs.resetGlobalScheduler(True)
        return True

    def solve_milp(self, lower: np.ndarray, upper: np.ndarray):
        M = coo_array((np.concatenate(self._vals), (np.concatenate(self._ri), np.concatenate(self._ci))),
                      shape=(self.n_rows, self.n_cols)).tocsr()
        col_lo = np.concatenate([lower, self.col_lo[self.n:]])
        col_hi = np.concatenate([upper, self.col_hi[self.n:]])
        return solve_milp(self.cost, csr_array(M), self.row_lo, self.row_hi, self.integrality, col_lo, col_hi)

    def duals(self):
        """(row duals of the program's rows, cone duals, upper-bound duals of v): d objective
        / d bound, from the certified optimum's multipliers when the rounds ended on one."""
        if self.kkt is not None:
            point = self.kkt
            by_row = dict(zip(self.v_rows, -point.row_multipliers, strict=True))
            cone = np.array([-point.cone_multipliers[k] if k in self.tau_col else by_row[self.cone_row[k]]
                             for k in range(len(self.lp.cones))])
            at_upper = np.isfinite(self.v_upper) & (point.v >= self.v_upper - 1e-9)
            return (-point.row_multipliers[:self.n_base_rows], cone,
                    np.where(at_upper, np.minimum(point.reduced_costs, 0.0), 0.0))
        sol = self.h.getSolution()
        row_dual = np.array(sol.row_dual)
        col_dual = np.array(sol.col_dual)[:self.n]
        v = np.array(sol.col_value)[:self.n]
        upper = np.array(self.h.getLp().col_upper_)[:self.n]
        at_upper = np.isfinite(upper) & (v >= upper - 1e-9)
        cone = np.array([row_dual[self.cone_row[k]] for k in range(len(self.lp.cones))])
        return row_dual[:self.n_base_rows], cone, np.where(at_upper, np.minimum(col_dual, 0), 0.0)


def rounds(lifted: Lifted, stack, tol: float, *, integer: bool = False, lower=None, upper=None):
    """Solve-and-cut rounds until every chance constraint holds to ``tol``, or until
    Newton's method on the LP's active set gives a certified optimum
    (:mod:`blending.solver.active_set`; LP rounds only, not MILP ones).

    Returns (lifted solution or None if infeasible, rounds, largest violation [wt%]); after
    a certified optimum, its v replaces the LP's in the lifted solution.
    """
    worst = np.inf
    history: list[float] = []
    start, lifted.kkt = lifted.kkt, None
    if start is not None and not integer:
        # the last certified optimum's active set, under this objective and these rows: a
        # lexicographic stage or the next point of a sweep often keeps it, and then needs no LP
        x = lifted.polish(lifted.kkt_x, stack, tol, start.binding)
        if x is not None:
            return x, 0, float(stack.values(x[:lifted.n]).max(initial=0.0))
    for n in range(1, MAX_ROUNDS + 1):
        x = lifted.solve_milp(lower, upper) if integer else lifted.solve_lp()
        if x is None:
            return None, n, np.inf
        values = stack.values(x[:lifted.n])
        worst = float(values.max(initial=0.0))
        if worst <= tol:
            return x, n, worst
        if not integer and worst <= POLISH_BELOW and lifted.n <= POLISH_MAX_VARIABLES:
            certified = lifted.polish(x, stack, tol)
            if certified is not None:
                return certified, n, float(stack.values(certified[:lifted.n]).max(initial=0.0))
        if lifted.separate(x, tol, np.flatnonzero(values > tol)) == 0:
            return x, n, worst  # nothing left to cut: round-off of the solver
        history.append(worst)
        stalled = len(history) > STALL_WINDOW and worst > 0.5 * history[-1 - STALL_WINDOW]
        if (n >= STALL_ROUNDS or stalled) and worst <= STALL_FACTOR * tol:
            # HiGHS holds rows to 1e-10; with z near 7 (risks of 1e-12) that leaves cones a
            # hair above 1e-9 wt% that more cuts cannot move
            return x, n, worst
    raise SolverError(f"outer approximation did not converge in {MAX_ROUNDS} rounds "
                       f"(largest violation {worst:.3g} wt%)")
