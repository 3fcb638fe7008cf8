"""Alloy specifications, charge materials and charge optimisation.

The data flow runs lot -> recipe -> heat: scrap lots and catalogue materials
(`materials`) are blended into a charge recipe that meets an alloy `spec`.
"""

from blending.composition import Composition, CompositionError
from blending.materials import Material, RecycledCategory, get_material, material_catalogue
from blending.spec import Limit, Spec, Verdict, alloy_catalogue, get_alloy

__all__ = [
    "Composition", "CompositionError", "Limit", "Material", "RecycledCategory", "Spec", "Verdict",
    "alloy_catalogue", "get_alloy", "get_material", "material_catalogue",
]
