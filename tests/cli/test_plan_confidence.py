"""``aluloop plan --confidence`` is the whole heat's figure, as in ``aluloop blend`` (issue 24);
``--per-limit-confidence`` is the expert option; the joint figure is on every table and JSON."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parents[2] / "examples"
PLAN = ("plan", "--schedule", str(EXAMPLES / "campaign_schedule.csv"), "--inventory",
        str(EXAMPLES / "campaign_inventory.csv"))


def aluloop(*args, columns: int = 200):
    exe = shutil.which("aluloop")
    cmd = [exe] if exe else [sys.executable, "-m", "aluloop.cli"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={"COLUMNS": str(columns), "PATH": str(Path(sys.executable).parent)})


def test_help_says_what_confidence_means():
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", aluloop("plan", "--help").stdout).split())
    assert "whole heat is in spec" in text and "--per-limit-confidence" in text


def test_the_default_plans_each_heat_in_spec_as_a_whole_and_says_so():
    out = json.loads(aluloop(*PLAN, "--draws", 20000, "--json").stdout)
    heats = out["joint"]["heats"]
    # the example's H2 asks for 0.9 for the whole heat in its own column; the others take the default
    assert [h["joint_confidence"] for h in heats] == [0.95, 0.9, 0.95]
    assert all(h["confidence"] is None for h in heats)
    for h in heats:
        assert h["p_joint"] >= h["joint_confidence"] - 3 * (0.05 * 0.95 / 20000) ** 0.5 - 0.002, h
    table = aluloop(*PLAN, "--draws", 2000).stdout
    assert "P(all limits)" in table and "joint 0.95" in table and "joint 0.9" in table


def test_per_limit_is_the_expert_option(tmp_path):
    schedule = tmp_path / "schedule.csv"
    schedule.write_text("heat,alloy,mass_kg\nH1,5182,15000\nH2,3104,20000\n")
    inventory = str(EXAMPLES / "campaign_inventory.csv")
    per_limit = json.loads(aluloop("plan", "--schedule", schedule, "--inventory", inventory,
                                   "--per-limit-confidence", 0.95, "--draws", 20000, "--json").stdout)
    joint = json.loads(aluloop("plan", "--schedule", schedule, "--inventory", inventory,
                               "--confidence", 0.95, "--draws", 20000, "--json").stdout)
    assert [h["confidence"] for h in per_limit["joint"]["heats"]] == [0.95, 0.95]
    assert [h["joint_confidence"] for h in per_limit["joint"]["heats"]] == [None, None]
    assert all(h["p_joint"] is not None for h in per_limit["joint"]["heats"])
    # 0.95 per limit is a looser plan than 0.95 for the whole heat
    assert per_limit["joint"]["recycled_kg"] >= joint["joint"]["recycled_kg"] - 1e-6


def test_both_figures_at_once_is_a_usage_error_naming_both_flags():
    result = aluloop(*PLAN, "--confidence", 0.9, "--per-limit-confidence", 0.9)
    assert result.returncode == 2
    assert "--per-limit-confidence" in result.stderr and "--confidence" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_schedule_row_with_both_columns_names_row_and_column(tmp_path):
    schedule = tmp_path / "schedule.csv"
    schedule.write_text("heat,alloy,mass_kg,confidence,per_limit_confidence\nH1,3104,20000,0.95,0.99\n")
    result = aluloop("plan", "--schedule", schedule, "--inventory", EXAMPLES / "campaign_inventory.csv")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "schedule.csv row 2, per_limit_confidence" in result.stderr
