"""Heats small enough to solve by hand (or by brute force), against the optimiser."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.stats import norm

from blending.catalogue.composition import Composition
from blending.catalogue.materials import Material, RecycledCategory
from blending.catalogue.spec import Limit, Spec
from blending.charge_model import build_charge_model
from blending.lot import Lot
from blending.melt import Melt
from blending.optimise import optimise
from blending.recipe import recipe_from_solution


def material(name, fe, *, sd=0.0, metal_yield=1.0, recycled=RecycledCategory.POST_CONSUMER, cost=2.0, mg=0.0):
    comp = {"Fe": fe}
    if mg:
        comp["Mg"] = mg
    return Material(name, Composition(comp), {"Fe": sd} if sd else {}, metal_yield, recycled, cost, 0.3)


FE_MAX = Spec("Fe<=0.4", limits={"Fe": Limit(("Fe",), None, 0.4)})


def test_two_material_dilution_by_hand():
    # scrap Fe 0.8 at 90% yield, primary Fe 0.1: metal from scrap m_s, from primary m_p
    # m_s + m_p = 1000 and 0.8 m_s + 0.1 m_p = 0.4 * 1000  ->  m_s = 300 / 0.7
    scrap = Lot(material("scrap", 0.8, metal_yield=0.9))
    primary = Lot(material("primary", 0.1, recycled=RecycledCategory.PRIMARY, cost=2.7))
    model = build_charge_model([scrap, primary], Melt(1000.0, recoveries={}), FE_MAX, confidence=0.5)
    solution = optimise(model)
    m_s = 300 / 0.7
    np.testing.assert_allclose(solution.x_kg, [m_s / 0.9, 1000 - m_s], rtol=1e-9)
    recipe = recipe_from_solution(solution, draws=10_000)
    assert recipe.recycled_fraction == pytest.approx(m_s / 1000, rel=1e-9)
    assert recipe.composition_wt_pct["Fe"] == pytest.approx(0.4, abs=1e-9)
    assert recipe.cost == pytest.approx(m_s / 0.9 * 2.0 + (1000 - m_s) * 2.7, rel=1e-9)


def test_two_material_dilution_with_spread_by_hand():
    # scrap Fe sd 0.1: 0.8 m_s + 0.1 m_p + z 0.1 m_s <= 400 with m_p = 1000 - m_s
    scrap = Lot(material("scrap", 0.8, sd=0.1))
    primary = Lot(material("primary", 0.1, recycled=RecycledCategory.PRIMARY))
    model = build_charge_model([scrap, primary], Melt(1000.0, recoveries={}), FE_MAX, confidence=0.95)
    solution = optimise(model)
    z = norm.ppf(0.95)
    m_s = 300 / (0.7 + 0.1 * z)
    np.testing.assert_allclose(solution.x_kg, [m_s, 1000 - m_s], rtol=1e-8)
    recipe = recipe_from_solution(solution)
    assert recipe.p_in_spec["Fe max"] == pytest.approx(0.95, abs=0.005)


def test_heel_by_hand():
    # heel 5 t at Fe 0.6; 15 t more from scrap Fe 0.5 and primary Fe 0.1 for Fe <= 0.4 over 20 t:
    # 3000 + 0.5 m_s + 0.1 (15000 - m_s) = 8000  ->  m_s = 3500 / 0.4
    scrap = Lot(material("scrap", 0.5))
    primary = Lot(material("primary", 0.1, recycled=RecycledCategory.PRIMARY))
    melt = Melt(20_000.0, heel_kg=5000.0, heel_composition=Composition({"Fe": 0.6}), recoveries={})
    solution = optimise(build_charge_model([scrap, primary], melt, FE_MAX, confidence=0.5))
    np.testing.assert_allclose(solution.x_kg, [8750.0, 6250.0], rtol=1e-9)
    recipe = recipe_from_solution(solution, draws=10_000)
    # the heel is metal of the same process: in the product mass, not in the recycled share
    assert recipe.recycled_fraction == pytest.approx(8750 / 20_000, rel=1e-9)


def test_mg_recovery_by_hand():
    # Mg >= 1.0 from scrap Mg 0.5 topped up with Mg ingot (99.9 Mg) at 90% Mg recovery:
    # 0.9 (0.5 m_s + 99.9 m_i) = 1.0 * 1000 with m_s + m_i = 1000
    scrap = Lot(material("scrap", 0.1, mg=0.5))
    ingot = Lot(Material("Mg ingot", Composition({"Mg": 99.9}), {}, 1.0, RecycledCategory.ALLOYING, 3.2, 28.0))
    spec = Spec("Mg>=1", limits={"Mg": Limit(("Mg",), 1.0, None)})
    solution = optimise(build_charge_model([scrap, ingot], Melt(1000.0, recoveries={"Mg": 0.9}), spec,
                                           confidence=0.5))
    m_i = (1000 / 0.9 - 500) / (99.9 - 0.5)
    np.testing.assert_allclose(solution.x_kg, [1000 - m_i, m_i], rtol=1e-9)


def test_integer_bales_against_brute_force():
    # bales of 500 kg (Fe 0.7), loose scrap (Fe 0.3, 1500 kg on hand), primary (Fe 0.1):
    # every bale count is tried with an LP (scipy, independent of the model) over the rest
    bales = Lot(material("bales", 0.7), available_kg=5000.0, unit_kg=500.0)
    loose = Lot(material("loose", 0.3, cost=2.2), available_kg=1500.0)
    primary = Lot(material("primary", 0.1, recycled=RecycledCategory.PRIMARY, cost=2.7))
    M, fe_max = 5000.0, 0.45
    spec = Spec("Fe<=0.45", limits={"Fe": Limit(("Fe",), None, fe_max)})
    solution = optimise(build_charge_model([bales, loose, primary], Melt(M, recoveries={}), spec, confidence=0.5))
    best = None
    for n in range(0, 11):
        b = 500.0 * n
        # variables (loose, primary): loose + primary = M - b; Fe balance; loose <= 1500
        res = linprog([-1.0, 0.0], A_ub=[[0.3 - fe_max, 0.1 - fe_max]], b_ub=[-(0.7 - fe_max) * b],
                      A_eq=[[1.0, 1.0]], b_eq=[M - b], bounds=[(0, 1500), (0, None)], method="highs")
        if res.status == 0:
            recycled = b + res.x[0]
            if best is None or recycled > best[0] + 1e-9:
                best = (recycled, n)
    assert solution.stage_values[0] == pytest.approx(-best[0] / M, rel=1e-9)
    assert round(solution.v[0]) == best[1]
    recipe = recipe_from_solution(solution, draws=10_000)
    assert recipe.lines[0].units == best[1]


def test_integer_bales_with_spread_against_enumeration():
    # the same with scrap spread at 95%: enumerate bale counts, solve the rest exactly as a
    # one-dimensional cone (bisection on the loose mass), keep the best
    bales = Lot(material("bales", 0.7, sd=0.08), available_kg=3000.0, unit_kg=500.0)
    loose = Lot(material("loose", 0.3, sd=0.05), available_kg=2000.0)
    primary = Lot(material("primary", 0.1, recycled=RecycledCategory.PRIMARY))
    M, fe_max, z = 5000.0, 0.45, norm.ppf(0.95)
    spec = Spec("Fe<=0.45", limits={"Fe": Limit(("Fe",), None, fe_max)})
    solution = optimise(build_charge_model([bales, loose, primary], Melt(M, recoveries={}), spec, confidence=0.95))

    def ok(b, loose_kg):
        p = M - b - loose_kg
        mean = 0.7 * b + 0.3 * loose_kg + 0.1 * p
        sd = np.hypot(0.08 * b, 0.05 * loose_kg)
        return mean + z * sd <= fe_max * M

    best = None
    for n, in itertools.product(range(0, 7)):
        b = 500.0 * n
        if not ok(b, 0.0):
            continue
        lo, hi = 0.0, min(2000.0, M - b)
        if ok(b, hi):
            lo = hi
        else:
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if ok(b, mid) else (lo, mid)
        if best is None or b + lo > best[0]:
            best = (b + lo, n)
    assert round(solution.v[0]) == best[1]
    assert -solution.stage_values[0] * M == pytest.approx(best[0], rel=1e-7)
