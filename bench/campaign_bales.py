"""Time a campaign plan in whole bales against the number of heats, with its gap and its loss.

Cases: issue 31's yard (research/campaign_cases.py, seed 0) with every scrap lot in whole bales of
its own size (400 to 600 kg; a lot's mass is whole bales), the additions bought to order loose;
20 t heats cycling 3104, 5182, 6063, 3104, 6061, each heat in spec as a whole at 95 %. Ours:
``blending.campaign_bales.baled_campaign`` (default 45 s wall-clock budget, no Monte Carlo), one
process per heat count on one core: its CPU time, the recycled metal it gives up against the plan
with every lot loose (the same-run baseline), and its stated optimality gap.

    python -m bench.campaign_bales [--heats 10 25 50] [--cap-s 400]
"""

from __future__ import annotations

import argparse

from bench.campaign_scale import run_case
from bench.results import Figure, write

GOAL_BALES_50_S = 60.0
TITLE_BALES = "Campaign plan in whole bales against the number of heats (issue 31)"
CHILD_BALES = """
import json, os, sys, time
os.environ.setdefault("OMP_NUM_THREADS", "1")
from research.campaign_cases import plant_case
from blending.campaign_bales import baled_campaign
heats, lots = plant_case({heats}, seed={seed}, bales=True)
t, c = time.process_time(), time.perf_counter()
plan = baled_campaign(heats, lots, draws=0)
print(json.dumps({{"seconds": time.process_time() - t, "wall_s": time.perf_counter() - c, "status": plan.status,
                  "message": plan.message, "recycled_kg": plan.recycled_kg, "cost": plan.cost,
                  "gap": None if plan.gap is None else plan.gap.to_json()}}))
"""


def bale_figures(results: dict[int, dict]) -> list[Figure]:
    """Per heat count: the bale plan's CPU time, with its gap and its loss against the loose plan."""
    figures = []
    for h, r in results.items():
        g = r.get("gap") or {}
        met = (r["status"] == "optimal" and r["seconds"] <= GOAL_BALES_50_S) if h == 50 else None
        figures.append(Figure(
            what=f"campaign plan in whole bales, {h} heats x 200 baled lots + 6 to order, joint 0.95 per heat",
            value=round(r["seconds"], 2), unit="s",
            baseline="recycled metal of the plan with every lot loose (kg)",
            baseline_value=round(g["loose_recycled_kg"], 1) if g else None,
            ratio=round(g["plan_recycled_kg"] / g["loose_recycled_kg"], 5) if g else None,
            target=f"<= {GOAL_BALES_50_S:g} s with the gap stated" if h == 50 else "", met=met,
            note=(f"CPU time; wall {r['wall_s']:.1f} s; status {r['status']}; "
                  + (f"recycled {g['plan_recycled_kg']:,.0f} kg, {100 * g['loss_vs_loose']:.2f}% below loose; "
                     f"optimality gap {100 * g['gap']:.2f}% against the {g['bound']}; bale counts from "
                     f"{g['bale_counts_from']}" if g else r.get("message", "")[:200]))))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heats", type=int, nargs="+", default=[10, 25, 50])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cap-s", type=float, default=400.0, help="wall-clock cap per heat count [s]")
    args = parser.parse_args()
    bales: dict[int, dict] = {}
    for h in args.heats:
        r = run_case(h, args.seed, args.cap_s, CHILD_BALES)
        bales[h] = r
        g = r.get("gap") or {}
        print(f"{h:4d} heats in bales: {r['seconds']:8.2f} s CPU ({r['wall_s']:.1f} s wall)  {r['status']}  "
              + (f"gap {100 * g['gap']:.2f}% ({g['bound']}), {100 * g['loss_vs_loose']:.2f}% below loose"
                 if g else r.get("message", "")[:120]), flush=True)
        # written after every count, so a bench stopped on a slow count keeps the ones before
        write("campaign_bales", bale_figures(bales), title=TITLE_BALES)


if __name__ == "__main__":
    main()
