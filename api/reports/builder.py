"""Build a heat's report as one plain JSON-able dict from the database.

Everything the report shows is here: the renderers only format it. An approved report is stored
frozen (``api.reports.approval``) and served from the store, so what the approver saw is what a
later reader gets.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.tables import InventoryItem, Lot
from api.schemas_heats import RecipeIn
from api.services import heats, recipes
from api.services.inventory import current_cells, lot_from_cells
from blending.catalogue.materials import RecycledCategory
from blending.footprint import ChargedMaterial, Energy, footprint

Z95 = 1.959963984540054
FURNACE = "gas reverberatory"


def _limits(spec) -> dict[str, dict]:
    out = {}
    for name, limit in spec.limits.items():
        out[name] = {"elements": list(limit.elements), "min_wt_pct": limit.min_wt_pct, "max_wt_pct": limit.max_wt_pct}
    return out


def _lot_stats(session: Session, item: InventoryItem | None) -> dict | None:
    if item is None or item.lot_id is None:
        return None
    lot = session.get(Lot, item.lot_id)
    if lot is None or lot.chemistry is None:
        return None
    chem = json.loads(lot.chemistry)
    mix = chem.get("grade_mix") or {}
    known = {g: f for g, f in mix.items() if g != "unknown"}
    main = max(known, key=known.get) if known else None
    return {"lot_id": str(lot.id), "line_id": lot.line_id, "bin": lot.bin, "pieces": lot.piece_count,
            "mass_kg": lot.mass_kg, "grade_mix": mix, "unknown_rate": chem.get("unknown_rate"),
            "main_grade": main, "estimated_purity": None if main is None else known[main]}


def _verdict(chemistry: list[dict], analyses: list[dict]) -> dict:
    if not analyses:
        return {"status": "pending", "sentence": "no OES analysis recorded yet"}
    out = [c["name"] for c in chemistry if c["last_measured_wt_pct"] is not None and not c["in_spec"]]
    if out:
        return {"status": "out of spec", "sentence": f"last analysis outside the limits of {', '.join(out)}"}
    return {"status": "in spec", "sentence": "last analysis inside every limit"}


def build(session: Session, heat_id: int, furnace: str | None = None) -> dict:
    """The report of heat ``heat_id`` (404 when there is none), melted in ``furnace`` (default: the heat's own,
    else :data:`FURNACE`)."""
    heat = heats.get(session, heat_id)
    furnace = furnace or heat.get("furnace") or FURNACE
    recipe_row = recipes.get(session, int(heat["recipe_id"]))
    asked = RecipeIn.model_validate_json(recipe_row.request)
    result = json.loads(recipe_row.result)
    spec = recipes.spec_of(asked)
    limits = _limits(spec)

    charge, charged = [], []
    for line in heat["charge"]:
        item = session.scalar(select(InventoryItem).where(InventoryItem.material == line["material"]))
        stats = _lot_stats(session, item)
        if item is not None:
            material = lot_from_cells(current_cells(item), item.material).material
            category, co2e, yld, source = material.recycled, material.co2e_kg_per_kg, material.metal_yield, (
                f"inventory item {item.id} ({'closed lot' if item.lot_id else 'registered row or catalogue'})")
        else:   # the item was removed since: the recipe's own record of its category
            category = RecycledCategory(next((r["recycled"] for r in result["recipe"]
                                              if r["material"] == line["material"]), "primary"))
            co2e, yld, source = 0.0, 1.0, "unknown (item no longer registered)"
        charge.append({"material": line["material"], "mass_kg": line["mass_kg"], "recycled": category.value,
                       "source_lots": [stats["lot_id"]] if stats else [], "kg_co2e_per_kg": co2e})
        charged.append(ChargedMaterial(line["material"], line["mass_kg"], category, co2e, source, yld))
        if stats:
            charge[-1]["lot"] = stats

    heel_kg = asked.heel_kg or 0.0
    liquid_kg = result["liquid_kg"]
    product_kg = max(liquid_kg - heel_kg, 1e-9)
    fp = footprint(charged, product_kg, Energy.of_furnace(furnace)).to_json()

    mean, sd = result.get("composition_wt_pct") or {}, result.get("composition_sd_wt_pct") or {}
    analyses = heat["analyses"]
    chemistry = []
    for name, lim in limits.items():
        els = lim["elements"]
        pred = sum(mean.get(e, 0.0) for e in els) if all(e in mean for e in els) else None
        psd = sum(sd.get(e, 0.0) ** 2 for e in els) ** 0.5 if pred is not None else None
        measured = [sum(a["composition_wt_pct"].get(e, 0.0) for e in els) for a in analyses]
        last = measured[-1] if measured else None
        ok = last is None or ((lim["min_wt_pct"] is None or last >= lim["min_wt_pct"] - 1e-12)
                              and (lim["max_wt_pct"] is None or last <= lim["max_wt_pct"] + 1e-12))
        chemistry.append({"name": name, "elements": els, "min_wt_pct": lim["min_wt_pct"],
                          "max_wt_pct": lim["max_wt_pct"], "predicted_wt_pct": pred,
                          "predicted_interval_wt_pct": None if pred is None else [pred - Z95 * psd, pred + Z95 * psd],
                          "measured_wt_pct": measured, "last_measured_wt_pct": last, "in_spec": ok})

    lots = [c["lot"] for c in charge if "lot" in c]
    events = heat["events"]
    dates = {"charged_at": heat["created_at"], "closed_at": heat["closed_at"],
             "first_analysis_at": analyses[0]["created_at"] if analyses else None}
    return {"report_version": 1, "heat_id": heat["id"], "heat_number": heat["name"], "status": heat["status"],
            "alloy": spec.name, "alloy_source": spec.source, "furnace": furnace, "dates": dates,
            "recipe_id": heat["recipe_id"], "liquid_kg": liquid_kg, "heel_kg": heel_kg, "product_kg": product_kg,
            "charged_kg": sum(c["mass_kg"] for c in charge), "charge": charge,
            "joint_confidence": result.get("joint_confidence"), "p_joint": result.get("p_joint"),
            "chemistry": chemistry, "analyses": analyses, "verdict": _verdict(chemistry, analyses),
            "trims": [{"id": t["id"], "analysis_id": t["analysis_id"], "status": t["result"].get("status"),
                       "statement": t["result"].get("statement"),
                       "additions": [{"material": a["material"], "mass_kg": a["mass_kg"]}
                                     for a in ((t["result"].get("additions") or {}).get("recipe") or [])],
                       "created_at": t["created_at"]} for t in heat["trims"]],
            "lots": lots, "recycled_content": {
                "fraction": fp["recycled_content_fraction"], "by_category": fp["recycled_by_category_fraction"],
                "note": fp["recycled_claim_note"]},
            "footprint": fp, "events": events, "built_at": datetime.now(UTC).isoformat()}
