"""``aluloop blend`` as a user runs it."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aluloop.cli import app
from tests.support.cli import run_aluloop

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


def blend(*args):
    return runner.invoke(app, ["blend", *args])


def test_json_has_the_documented_keys_and_a_consistent_recipe():
    result = blend("--alloy", "6063", "--mass-kg", "20000", "--inventory", str(EXAMPLES / "toto_6063_inventory.csv"),
                   "--json", "--draws", "20000")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"status", "recipe", "composition_wt_pct", "composition_sd_wt_pct", "p_in_spec", "p_joint",
            "recycled_fraction", "cost", "co2e_kg", "binding", "diagnosis"} <= out.keys()
    assert out["status"] == "optimal"
    assert {"material", "mass_kg", "units"} <= out["recipe"][0].keys()
    # every limit held at 95% on its own: the Monte Carlo agrees within its noise
    assert min(out["p_in_spec"].values()) >= 0.95 - 0.01
    assert 0 < out["recycled_fraction"] <= 1
    assert sum(r["mass_kg"] for r in out["recipe"]) > 20000  # yields below 1


def test_whole_bales_come_out_as_units():
    result = blend("--alloy", "3104", "--mass-kg", "20000", "--inventory", str(EXAMPLES / "ubc_3104_inventory.csv"),
                   "--json", "--draws", "20000", "--mass-tolerance-kg", "200")
    out = json.loads(result.stdout)
    bales = next(r for r in out["recipe"] if r["material"] == "UBC bales lot 4471")
    assert bales["units"] * 500 == pytest.approx(bales["mass_kg"])


def test_custom_limits_with_bi_and_be_and_human_output(tmp_path):
    png = tmp_path / "chem.png"
    result = blend("--limits", str(EXAMPLES / "limits_custom.csv"), "--mass-kg", "20000",
                   "--inventory", str(EXAMPLES / "old_sheet_5052_inventory.csv"), "--draws", "20000",
                   "--mass-tolerance-kg", "200", "--plot", str(png))
    assert result.exit_code == 0, result.output
    assert "Be max" in result.stdout and "joint probability" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_infeasible_heat_exits_1_with_a_diagnosis(tmp_path):
    inv = tmp_path / "inv.csv"
    inv.write_text("material,available_kg\nmixed castings,30000\n")
    result = blend("--alloy", "5052", "--mass-kg", "20000", "--inventory", str(inv), "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["status"] == "infeasible"
    names = {s["limit"] for s in out["diagnosis"]["cannot_meet"]}
    assert {"Si max", "Cu max", "Mg min"} <= names


@pytest.mark.parametrize("args, message", [
    (["--alloy", "9999"], "unknown alloy '9999'"),
    (["--alloy", "3104", "--confidence", "1.2"], "--confidence 1.2 must be at least 0.5 and below 1"),
    (["--alloy", "3104", "--confidence", "0.3"], "--confidence 0.3 must be at least 0.5"),
    (["--alloy", "3104", "--objective", "speed"], "--objective 'speed' is not one of"),
    (["--alloy", "3104", "--limits", "x.csv"], "give exactly one of --alloy and --limits"),
])
def test_bad_options_give_one_line_and_exit_2(args, message):
    result = blend(*args, "--mass-kg", "20000", "--inventory", str(EXAMPLES / "ubc_3104_inventory.csv"))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text, message", [
    ("material,available_kg\nunobtainium,5\n", "'unobtainium' is not a catalogue material"),
    ("material,available_kg\nUBC,-100\n", "available_kg: -100 kg must be at least 0"),
    ("name,available_kg\nUBC,100\n", "missing column(s) material"),
])
def test_bad_inventory_gives_one_line_and_exit_2(tmp_path, text, message):
    inv = tmp_path / "inventory.csv"
    inv.write_text(text)
    result = blend("--alloy", "3104", "--mass-kg", "20000", "--inventory", str(inv))
    assert result.exit_code == 2
    assert message in result.output


def test_installed_command_prints_clean_json():
    # a real process: nothing (e.g. a solver banner) may precede the JSON
    result = run_aluloop("blend", "--alloy", "3104", "--mass-kg", "20000", "--inventory",
                         str(EXAMPLES / "ubc_3104_inventory.csv"), "--json", "--draws", "5000",
                         "--mass-tolerance-kg", "200", timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "optimal"


def test_calibrated_joint_allocation_spends_the_joint_risk_asked():
    args = ("--alloy", "6063", "--mass-kg", "20000", "--inventory", str(EXAMPLES / "toto_6063_inventory.csv"),
            "--joint-confidence", "0.95", "--json", "--draws", "200000", "--seed", "31")
    bound = json.loads(blend(*args).stdout)
    result = blend(*args, "--joint-allocation", "calibrated")
    assert result.exit_code == 0, result.output
    calibrated = json.loads(result.stdout)
    se = (0.95 * 0.05 / 200_000) ** 0.5
    # the CLI's own Monte Carlo (not the optimiser's estimate) lands on 0.95 within its noise
    assert abs(calibrated["p_joint"] - 0.95) <= 4 * se
    assert bound["p_joint"] >= 0.95 - 4 * se
    assert calibrated["recycled_fraction"] >= bound["recycled_fraction"]


@pytest.mark.parametrize("args, message", [
    (["--joint-confidence", "0.95", "--joint-allocation", "exact"], "--joint-allocation 'exact' is not one of"),
    (["--per-limit-confidence", "0.9", "--joint-allocation", "calibrated"],
     "--joint-allocation calibrated needs a joint confidence, not a per-limit one"),
])
def test_bad_joint_allocation_gives_one_line_and_exit_2(args, message):
    result = blend("--alloy", "3104", "--mass-kg", "20000", "--inventory", str(EXAMPLES / "ubc_3104_inventory.csv"),
                   *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
