"""``aluloop lots build``: classified pieces -> lots -> an inventory that ``aluloop blend`` charges."""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aluloop.cli import app

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_spectra"
runner = CliRunner()
GRADES = ("3104", "5182", "3003", "1050A")


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    """The JSON lines `aluloop classify --json` prints for a few UBC-like pieces, each with a mass added."""
    files = sorted(str(p) for g in GRADES for p in SAMPLES.glob(f"{g}_broadband_*"))
    result = runner.invoke(app, ["classify", *files, "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == len(files) >= 8
    path = tmp_path_factory.mktemp("lots") / "pieces.jsonl"
    with path.open("w") as fh:
        for i, rec in enumerate(lines):
            rec["mass_kg"] = 0.2 + 0.1 * i
            fh.write(json.dumps(rec) + "\n")
    return path


def _rows(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_lots_by_grade_hold_the_bias_corrected_mass_weighted_mean(records, tmp_path):
    out = tmp_path / "lots.csv"
    result = runner.invoke(app, ["lots", "build", "--records", str(records), "--out", str(out),
                                 "--model", "broadband"])
    assert result.exit_code == 0, result.output
    rows = {r["material"]: r for r in _rows(out)}
    pieces = [json.loads(line) for line in records.read_text().splitlines()]
    card = json.loads((ROOT / "models" / "broadband.card.json").read_text())["composition_error"]["grades"]
    for grade in GRADES:
        mine = [p for p in pieces if p["grade"] == grade and p["decision"] == "accept"]
        row = rows[f"sorted {grade}"]
        mass = sum(p["mass_kg"] for p in mine)
        assert float(row["available_kg"]) == pytest.approx(mass, abs=1e-3)
        for el in ("Mg", "Mn", "Si"):
            expected = sum(p["mass_kg"] * (p["composition_wt_pct"][el] - card[grade][el]["bias"]) for p in mine) / mass
            assert float(row[el]) == pytest.approx(max(0.0, expected), rel=1e-5, abs=1e-6)
            # the sd of the mean: the card's random sd over the pieces, and the grade's shared sd on top
            random_var = sum((p["mass_kg"] / mass * card[grade][el]["random_sd"]) ** 2 for p in mine)
            assert float(row[f"sd_{el}"]) == pytest.approx((random_var + card[grade][el]["shared_sd"] ** 2) ** 0.5,
                                                           rel=1e-5)


def test_the_lots_go_straight_into_blend(records, tmp_path):
    out = tmp_path / "lots.csv"
    assert runner.invoke(app, ["lots", "build", "--records", str(records), "--out", str(out)]).exit_code == 0
    rows = _rows(out)
    columns = list(rows[0])
    for material in ("P1020", "Mn 75 tablets", "Mg ingot", "Al-Cu 50"):   # catalogue primary and hardeners
        rows.append(dict.fromkeys(columns, "") | {"material": material})
    inventory = tmp_path / "inventory.csv"
    with inventory.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(app, ["blend", "--alloy", "3104", "--mass-kg", "5", "--inventory", str(inventory),
                                 "--json", "--draws", "5000"])
    assert result.exit_code == 0, result.output
    recipe = json.loads(result.stdout)
    assert recipe["status"] == "optimal" and recipe["p_joint"] >= 0.94
    used = {r["material"] for r in recipe["recipe"] if r["mass_kg"] > 0}
    assert any(m.startswith("sorted ") for m in used)


def test_records_with_a_bin_make_one_lot_per_bin_unknowns_included(records, tmp_path):
    pieces = [json.loads(line) for line in records.read_text().splitlines()]
    for i, p in enumerate(pieces):
        p["bin"] = "A" if i % 2 else 7
    pieces[0]["decision"] = "unknown"
    binned = tmp_path / "binned.jsonl"
    binned.write_text("".join(json.dumps(p) + "\n" for p in pieces))
    out = tmp_path / "lots.csv"
    result = runner.invoke(app, ["lots", "build", "--records", str(binned), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["material"]: r for r in _rows(out)}
    assert set(rows) == {"sorted bin 7", "sorted bin A"}
    assert float(rows["sorted bin 7"]["available_kg"]) == pytest.approx(sum(p["mass_kg"] for p in pieces[::2]),
                                                                         abs=1e-3)
    assert "unknown" in rows["sorted bin 7"]["description"]


@pytest.mark.parametrize("line, message", [
    ("{not json", "pieces.jsonl line 2: not valid JSON"),
    ('{"grade": "3104", "composition_wt_pct": {}}', "pieces.jsonl line 2: no mass_kg"),
    ('{"grade": "3104", "mass_kg": -1, "composition_wt_pct": {}}', "pieces.jsonl line 2: mass_kg is -1"),
    ('{"grade": "3104", "mass_kg": "heavy", "composition_wt_pct": {}}', "pieces.jsonl line 2: mass_kg is \"heavy\""),
    ('{"grade": "3104", "mass_kg": 1, "composition_wt_pct": {"Mg": 120}}', "line 2: composition_wt_pct.Mg is 120"),
    ('[1, 2]', "pieces.jsonl line 2: a record must be a JSON object"),
    ('{"grade": "3104", "mass_kg": 1, "bin": "B", "composition_wt_pct": {"Mg": 1}}', "line 1: no bin while other"),
])
def test_a_bad_record_is_one_line_naming_it_and_exit_2(tmp_path, line, message):
    good = json.dumps({"grade": "3104", "decision": "accept", "mass_kg": 0.5, "composition_wt_pct": {"Mg": 1.1}})
    path = tmp_path / "pieces.jsonl"
    path.write_text(good + "\n" + line + "\n")
    result = runner.invoke(app, ["lots", "build", "--records", str(path), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.csv").exists()


def test_an_empty_file_and_an_unknown_model_are_refused(tmp_path):
    path = tmp_path / "pieces.jsonl"
    path.write_text("\n")
    result = runner.invoke(app, ["lots", "build", "--records", str(path), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "no records" in result.output
    path.write_text(json.dumps({"grade": "3104", "mass_kg": 1, "composition_wt_pct": {"Mg": 1}}) + "\n")
    result = runner.invoke(app, ["lots", "build", "--records", str(path), "--out", str(tmp_path / "o.csv"),
                                 "--model", "nosuch"])
    assert result.exit_code == 2 and "no bundled model 'nosuch'" in " ".join(result.output.split())
