"""Infeasible heats: the elastic program names the right limits, amounts and fixes."""

import pytest

from blending.catalogue.composition import Composition
from blending.catalogue.materials import Material, RecycledCategory, get_material
from blending.catalogue.spec import Limit, Spec
from blending.charge_model import build_charge_model
from blending.lot import Lot
from blending.melt import Melt
from blending.optimise import optimise
from blending.recipe import recipe_from_solution
from research.blend_socp_reference import reference_solve


def scrap(name, **wt):
    return Lot(Material(name, Composition(wt), {}, 1.0, RecycledCategory.POST_CONSUMER, 1.9, 0.3))


def test_copper_too_high_is_named_with_its_gap_and_a_diluter():
    # every lot has Cu >= 0.4 against Cu <= 0.3: at best the lowest-Cu lot alone, 0.1 wt% over
    lots = [scrap("castings", Cu=0.9, Si=0.5), scrap("sheet", Cu=0.4, Si=0.2)]
    spec = Spec("low Cu", limits={"Cu": Limit(("Cu",), None, 0.3), "Si": Limit(("Si",), None, 0.6)})
    model = build_charge_model(lots, Melt(10_000.0, recoveries={}), spec, confidence=0.5)
    solution = optimise(model)
    assert solution.status == "infeasible"
    assert reference_solve(lots, model.melt, spec, 0.5) is None
    recipe = recipe_from_solution(solution)
    (shortfall,) = recipe.diagnosis.shortfalls
    assert shortfall.name == "Cu max"
    assert shortfall.amount == pytest.approx(0.1, abs=1e-7)
    # a Cu-free material fixes it: 10 t at 0.3 from 0.4 needs a quarter of the melt from Cu ~ 0
    assert "would fix it" in shortfall.fix
    kg = float(shortfall.fix.split("about ")[1].split(" kg")[0].replace(",", ""))
    assert 2400 <= kg <= 10_000


def test_magnesium_minimum_without_magnesium_names_mg_and_mg_ingot():
    lots = [scrap("siding", Mg=0.5, Fe=0.5), Lot(get_material("P1020"))]
    spec = Spec("5xxx-ish", limits={"Mg": Limit(("Mg",), 2.2, 2.8), "Fe": Limit(("Fe",), None, 0.7)})
    solution = optimise(build_charge_model(lots, Melt(10_000.0), spec, confidence=0.9))
    diagnosis = recipe_from_solution(solution).diagnosis
    assert diagnosis.names == ("Mg min",)
    assert "Mg ingot" in diagnosis.shortfalls[0].fix


def test_not_enough_metal_is_named_as_availability_with_the_lot_to_add():
    lots = [Lot(scrap("sheet", Fe=0.3).material, available_kg=4000.0)]
    spec = Spec("Fe", limits={"Fe": Limit(("Fe",), None, 0.5)})
    solution = optimise(build_charge_model(lots, Melt(10_000.0, recoveries={}), spec, confidence=0.5))
    diagnosis = recipe_from_solution(solution).diagnosis
    assert diagnosis.names == ("availability",)
    # yield 1: 10 t of liquid from 4 t on hand needs 6 t more of the only lot
    assert diagnosis.shortfalls[0].amount == pytest.approx(6000.0, rel=1e-6)
    assert "6,000 kg more of sheet" in diagnosis.shortfalls[0].fix


def test_only_the_chance_constraint_fails():
    # the mean meets Fe <= 0.5 (0.45) but a 0.1 wt% spread cannot be held at 99%
    lots = [Lot(Material("only", Composition({"Fe": 0.45}), {"Fe": 0.1}, 1.0,
                         RecycledCategory.POST_CONSUMER, 1.9, 0.3))]
    spec = Spec("Fe", limits={"Fe": Limit(("Fe",), None, 0.5)})
    model = build_charge_model(lots, Melt(10_000.0, recoveries={}), spec, confidence=0.99)
    assert optimise(model).status == "infeasible"
    diagnosis = recipe_from_solution(optimise(model)).diagnosis
    assert diagnosis.names == ("Fe max",)
    # single lot: the 99% quantile is 0.45 + 2.326 * 0.1, so 0.1826 wt% over
    assert diagnosis.shortfalls[0].amount == pytest.approx(0.45 + 2.3263479 * 0.1 - 0.5, abs=1e-6)


def test_a_heel_that_alone_breaks_a_limit_gets_a_diagnosis_not_a_solver_crash():
    # found over the service: a 2 t heel at Mn 0.8 in a 10 t melt brings 2000 * 0.8 / 10000 = 0.16 wt% Mn
    # against Mn <= 0.10 whatever is charged, and nothing in the yard carries Cr against Cr >= 0.15. The
    # active-set polish used to meet a chance constraint with zero spread and stop on numpy's SVD error.
    from blending.catalogue.spec import load_limits_csv
    from blending.lot import load_inventory
    from blending.plan import ChargeRequest, plan_charge

    recipe = plan_charge(ChargeRequest(
        load_limits_csv("examples/limits_custom.csv"), 10_000, load_inventory("examples/campaign_inventory.csv"),
        objective="cost", heel_kg=2_000, heel_composition=Composition({"Mg": 1.0, "Mn": 0.8})))
    assert recipe.status == "infeasible"
    binds = set(recipe.diagnosis.to_json()["binds"])
    assert {"Mn max", "Cr min"} <= binds
