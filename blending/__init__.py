"""Alloy specifications, charge materials and charge optimisation.

The data flow runs lot -> recipe -> heat: scrap lots and catalogue materials
(`materials`) are blended into a charge recipe that meets an alloy `spec`.
"""

from blending.charge_model import ChargeModel, build_charge_model
from blending.composition import Composition, CompositionError
from blending.lot import Lot, load_inventory
from blending.materials import Material, RecycledCategory, get_material, material_catalogue
from blending.melt import Melt
from blending.optimise import Objective, optimise
from blending.recipe import Recipe, recipe_from_solution
from blending.spec import Limit, Spec, Verdict, alloy_catalogue, get_alloy

__all__ = [
    "ChargeModel", "Composition", "CompositionError", "Limit", "Lot", "Material", "Melt", "Objective", "Recipe",
    "RecycledCategory", "Spec", "Verdict", "alloy_catalogue", "build_charge_model", "get_alloy", "get_material",
    "load_inventory", "material_catalogue", "optimise", "recipe_from_solution",
]
