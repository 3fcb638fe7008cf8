"""The acceptance bench's pieces on a tiny belt (bench/lot_uncertainty.py; the full run is in docs/benchmarks.md)."""

import math

import numpy as np
import pytest

import bench.lot_uncertainty as lot_bench
from blending.lot_chemistry import LotChemistry


def _lot(mean, sd, random_sd):
    els = lot_bench.MAJORS
    return LotChemistry("x", 1.0, 1, {}, 0.0, dict.fromkeys(els, mean), dict.fromkeys(els, sd),
                        dict.fromkeys(els, random_sd), {})


def test_coverage_and_width_ratio_by_hand():
    # ten lots, errors of 0.5, 1.0, ..., 5.0 sds: 3 of 10 inside 1.96 sd; 90% needs a factor 4.55 / 1.96
    lots = {f"l{i}": (_lot(1.0, 0.1, 0.05), dict.fromkeys(lot_bench.MAJORS, 1.0 + 0.05 * (i + 1)))
            for i in range(10)}
    cov = lot_bench.coverage(lots)
    assert cov["pairs"] == 60
    assert cov["coverage"] == pytest.approx(0.3)
    # |z| of 0.5 ... 5.0: the 90th percentile (numpy's linear rule) is 4.55
    assert cov["width_ratio"] == pytest.approx(1.959963984540054 / 4.55)
    assert cov["coverage_random_only"] == pytest.approx(0.1)   # only |z| = 1 (0.5 sd) stays inside 1.96


def test_a_tiny_belt_is_covered_and_the_array_sums_equal_lot_chemistry():
    from aluloop.commands.lots import error_figures

    belt = lot_bench.simulate_belt(150, 2, seed=11, progress=lambda _: None)
    belt["keys"] = lot_bench.lot_keys(belt)
    figures = error_figures(lot_bench.MODEL)
    index = {f"shift {s} {k}": np.flatnonzero((belt["shift"] == s) & (belt["keys"] == k))
             for s in np.unique(belt["shift"]) for k in sorted(set(belt["keys"][belt["shift"] == s]))}
    lots = lot_bench.build(belt, figures, index)
    cov = lot_bench.coverage(lots)
    assert cov["pairs"] >= 60 and cov["coverage"] >= 0.8
    table = lot_bench.PieceTable(belt, figures)
    for name, (fast, truth) in table.lots(index).items():
        slow, slow_truth = lots[name]
        for e in lot_bench.MAJORS:
            assert math.isclose(fast.mean_wt_pct[e], slow.mean_wt_pct[e], rel_tol=1e-9, abs_tol=1e-12)
            assert math.isclose(fast.sd_of_mean_wt_pct[e], slow.sd_of_mean_wt_pct[e], rel_tol=1e-9)
            assert truth[e] == pytest.approx(slow_truth[e])
    # a yard rebuilt from the belt keeps every lot's piece count and gives a plannable 3104 heat
    yard = lot_bench.replicate_yard(table, index, np.random.default_rng(0))
    assert {n: lot.piece_count for n, (lot, _) in yard.items()} == {n: i.size for n, i in index.items()}
    recipe = lot_bench.plan(yard, 30.0, draws=2000)
    assert recipe.status == "optimal"
    heat = lot_bench.true_heat(recipe, {n: t for n, (_, t) in yard.items()}, np.random.default_rng(1))
    assert sum(heat.values()) < 100 and heat["Mn"] > 0
