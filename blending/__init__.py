"""Alloy specifications, charge materials and charge optimisation.

The data flow runs lot -> recipe -> heat: scrap lots and catalogue materials
(`catalogue`) are blended into a charge recipe that meets an alloy spec.

Importing ``blending`` loads nothing: the names below are imported on first use, so
``sorter`` can read the catalogue without loading the solver stack.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ChargeModel": "blending.charge_model", "build_charge_model": "blending.charge_model",
    "Composition": "blending.catalogue.composition", "CompositionError": "blending.catalogue.composition",
    "Limit": "blending.catalogue.spec", "Spec": "blending.catalogue.spec", "Verdict": "blending.catalogue.spec",
    "alloy_catalogue": "blending.catalogue.spec", "get_alloy": "blending.catalogue.spec",
    "Material": "blending.catalogue.materials", "RecycledCategory": "blending.catalogue.materials",
    "get_material": "blending.catalogue.materials", "material_catalogue": "blending.catalogue.materials",
    "Lot": "blending.lot", "load_inventory": "blending.lot",
    "Melt": "blending.melt",
    "Objective": "blending.optimise", "optimise": "blending.optimise",
    "Recipe": "blending.recipe", "recipe_from_solution": "blending.recipe",
    "AluloopError": "blending.errors", "InputError": "blending.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'blending' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
