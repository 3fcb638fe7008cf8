"""``aluloop trim``, ``pareto`` and ``plan`` as a user runs them: the installed entry point."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_aluloop

EXAMPLES = Path(__file__).parents[2] / "examples"


def aluloop(*args: str) -> subprocess.CompletedProcess:
    return run_aluloop(*args, timeout=300)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and not result.stdout.strip(), result.stderr
    return lines[0]


def test_trim_example_adds_primary_and_magnesium_within_the_limits():
    result = aluloop("trim", "--alloy", "5182", "--melt-kg", "18000", "--analysis",
                     str(EXAMPLES / "trim_analysis_5182.csv"), "--inventory", str(EXAMPLES / "trim_additions.csv"),
                     "--capacity-kg", "25000", "--draws", "5000", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "trimmed"
    recipe = out["additions"]
    added = {line["material"]: line["mass_kg"] for line in recipe["recipe"]}
    assert added["P1020"] > 0
    assert 18000 + sum(added.values()) <= 25000 + 1e-6
    # measured Fe 0.38 wt% is over 5182's 0.35: the additions bring the mean under it
    assert recipe["composition_wt_pct"]["Fe"] < 0.35
    prices = {"P1020": 2.75, "Mg ingot": 3.2, "Mn 75 tablets": 3.0, "can plant scrap end": 2.25}  # materials.csv
    assert recipe["cost"] == pytest.approx(sum(prices[m] * kg for m, kg in added.items()), rel=1e-9)


def test_trim_of_an_unsavable_melt_says_so_and_exits_1(tmp_path):
    analysis = tmp_path / "analysis.csv"
    analysis.write_text("element,wt_pct\nFe,0.6\nSi,0.2\nCu,0.1\nZn,0.05\n")
    additions = tmp_path / "additions.csv"
    additions.write_text("material,available_kg\nP1020,5000\n")
    result = aluloop("trim", "--alloy", "1050A", "--melt-kg", "18000", "--analysis", str(analysis),
                     "--inventory", str(additions))
    assert result.returncode == 1, result.stderr
    text = " ".join(result.stdout.split())
    assert "cannot be brought inside the 1050A aim limits" in text
    # diluted by all 5000 kg of P1020 the melt still holds more Fe than 1050A allows, but it is a fine 1100
    assert "Fe max" in text and "1100" in text.split("Re-grade:")[1]


@pytest.mark.parametrize(("args", "match"), [
    (["--capacity-kg", "25000", "--analysis", "BAD"], "analysis.csv row 3, element: 'Xx' is not an element symbol"),
    (["--analysis", "GOOD"], "--capacity-kg is needed: P1020"),
    (["--capacity-kg", "15000", "--analysis", "GOOD"], "furnace capacity 15000 kg must be above the melt mass"),
])
def test_trim_bad_input_is_one_line_and_exit_2(tmp_path, args, match):
    bad = tmp_path / "analysis.csv"
    bad.write_text("element,wt_pct\nFe,0.4\nXx,0.1\n")
    args = [str(bad) if a == "BAD" else str(EXAMPLES / "trim_analysis_5182.csv") if a == "GOOD" else a for a in args]
    additions = tmp_path / "additions.csv"
    additions.write_text("material,available_kg\nP1020,\n")
    line = one_line_error(aluloop("trim", "--alloy", "5182", "--melt-kg", "18000", "--inventory", str(additions),
                                  *args))
    assert match in line


def test_pareto_writes_a_plot_and_monotone_fronts(tmp_path):
    png, table = tmp_path / "front.png", tmp_path / "front.csv"
    result = aluloop("pareto", "--alloy", "3104", "--mass-kg", "20000", "--inventory",
                     str(EXAMPLES / "ubc_3104_inventory.csv"), "--points", "6", "--out", str(png),
                     "--csv", str(table), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    costs = [p["cost"] for p in out["cost_front"]]
    recycled = [p["recycled_fraction"] for p in out["cost_front"]]
    assert len(costs) == 6 and costs == sorted(costs) and recycled == sorted(recycled)
    assert png.stat().st_size > 10_000
    assert len(table.read_text().splitlines()) == 1 + 12


def test_pareto_bad_points_exit_2():
    line = one_line_error(aluloop("pareto", "--alloy", "3104", "--mass-kg", "20000", "--inventory",
                                  str(EXAMPLES / "ubc_3104_inventory.csv"), "--points", "1"))
    assert "--points 1 must be between 2 and 1000" in line


def test_plan_example_plans_together_better_than_greedy():
    result = aluloop("plan", "--schedule", str(EXAMPLES / "campaign_schedule.csv"), "--inventory",
                     str(EXAMPLES / "campaign_inventory.csv"), "--draws", "2000", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    joint, greedy = out["joint"], out["greedy"]
    assert [h["heat"] for h in joint["heats"]] == ["H1", "H2", "H3"]
    assert joint["recycled_kg"] >= greedy["recycled_kg"]
    assert out["gain"]["recycled_kg"] == pytest.approx(joint["recycled_kg"] - greedy["recycled_kg"])
    for use in joint["inventory_use"]:
        if use["available_kg"] is not None:
            assert use["used_kg"] <= use["available_kg"] + 1e-6


@pytest.mark.parametrize(("rows", "match"), [
    ("H1,3104,20000\nH2,5182,15000\nH3,7777,12000\n", "schedule.csv row 4, alloy: unknown alloy '7777'"),
    ("H1,3104,20000\nH2,5182,-15000\n", "schedule.csv row 3, mass_kg: -15000 kg must be at least 0"),
])
def test_plan_bad_schedule_is_one_line_naming_row_and_field(tmp_path, rows, match):
    schedule = tmp_path / "schedule.csv"
    schedule.write_text("heat,alloy,mass_kg\n" + rows)
    line = one_line_error(aluloop("plan", "--schedule", str(schedule), "--inventory",
                                  str(EXAMPLES / "campaign_inventory.csv")))
    assert match in line


def test_plan_that_the_inventory_cannot_cover_exits_1_and_says_why(tmp_path):
    schedule, inventory = tmp_path / "schedule.csv", tmp_path / "inventory.csv"
    schedule.write_text("heat,alloy,mass_kg,per_limit_confidence\nH1,3104,8000,0.5\nH2,3104,8000,0.5\n")
    inventory.write_text("material,available_kg\nUBC,10000\nMn 75 tablets,\nMg ingot,\n")
    result = aluloop("plan", "--schedule", str(schedule), "--inventory", str(inventory))
    assert result.returncode == 1, result.stderr
    text = " ".join(result.stdout.split())
    assert "No plan charges every heat" in text and "cannot cover the whole schedule together" in text


def test_plan_of_a_large_bale_schedule_states_its_gap(tmp_path):
    """Lots in bales past the exact MILP's size: the plan in whole bales, its gap in the JSON and a
    line in the tables; a bad time limit is one line naming the flag."""
    from research.campaign_cases import plant_case, write_csv

    schedule, inventory = write_csv(*plant_case(4, seed=6, n_lots=24, bales=True), tmp_path)
    args = ("plan", "--schedule", str(schedule), "--inventory", str(inventory), "--draws", "1000",
            "--time-limit-s", "3")
    result = aluloop(*args, "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    gap = out["joint"]["gap"]
    assert gap["bound"] in ("loose plan", "MILP dual bound") and 0 <= gap["gap"] < 0.1
    assert gap["plan_recycled_kg"] == pytest.approx(out["joint"]["recycled_kg"])
    assert out["greedy"] is None and "greedy" in out["note"]
    for heat in out["joint"]["heats"]:
        for line in heat["recipe"]["recipe"]:
            if " lot " in line["material"]:
                assert line["units"] is not None and line["units"] >= 0
    tables = aluloop(*args)
    assert tables.returncode == 0 and "optimality gap" in " ".join(tables.stdout.split())
    assert "--time-limit-s" in one_line_error(aluloop(*args[:-1], "0"))
