"""``aluloop train libs`` and ``aluloop classify`` as a user runs them."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from sorter.io import read_spectrum, write_spectrum
from sorter.spectrum import Metadata, Spectrum
from tests.support.cli import run_aluloop
from tests.support.libs_fixtures import GRID, toy_batch

# `aluloop train libs` in a subprocess for the module's model
pytestmark = pytest.mark.slow


def aluloop(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_aluloop(*args, timeout=timeout)


@pytest.fixture(scope="module")
def plant_folder(tmp_path_factory):
    """A plant's labelled folder: CSV and JCAMP-DX spectra plus labels.csv with element columns."""
    folder = tmp_path_factory.mktemp("plant")
    X, y, Y, elements = toy_batch(GRID, 25, seed=5)
    rows = ["file,grade," + ",".join(elements)]
    for i, (x, g, comp) in enumerate(zip(X, y, Y, strict=True)):
        name = f"s{i:03d}.{'jdx' if i % 5 == 0 else 'csv'}"
        write_spectrum(folder / name, Spectrum(GRID, x, Metadata(instrument="plant-libs")))
        rows.append(f"{name},{g}," + ",".join(f"{v:.4f}" for v in comp))
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def trained(plant_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "plant.onnx"
    result = aluloop("train", "libs", "--data", str(plant_folder), "--out", str(out), "--max-iter", "100",
                     "--members", "3", "--max-shift-nm", "0.06", "--augment", "1")
    assert result.returncode == 0, result.stderr
    return out, result


def test_train_writes_model_card_and_report(trained):
    out, result = trained
    card = json.loads(out.with_name("plant.card.json").read_text())
    report = out.with_name("plant.report")
    assert card["instrument"] == "plant-libs" and card["classes"] == sorted(card["classes"])
    assert (report / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    per_class = json.loads((report / "report.json").read_text())["per_class"]
    assert set(per_class) == set(card["classes"]) and all("recall" in v for v in per_class.values())
    assert "grade accuracy" in result.stdout
    # the card's command reproduces the model, ensemble size, offset correction and copies included
    assert card["reproduce"].startswith("aluloop train libs --data ")
    assert card["reproduce"].endswith(f"--out {out} --seed 0 --max-iter 100 --members 3 --max-shift-nm 0.06 "
                                      "--augment 1")
    assert card["training_data"]["augmentation"]["copies"] == 1
    # 25 spectra per grade get no plasma-state experts, so no state reference is simulated for them
    assert "experts need" in card["training_data"]["state_reference"]["reason"]


def test_classify_prints_one_json_object_per_spectrum(trained, plant_folder):
    out, _ = trained
    files = [str(plant_folder / "s001.csv"), str(plant_folder / "s030.jdx")]
    result = aluloop("classify", *files, "--model", str(out), "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["file"] for r in lines] == files
    for r in lines:
        assert set(r) >= {"file", "grade", "family", "probabilities", "composition_wt_pct", "decision", "reason"}
        assert len(r["probabilities"]) == 3 and r["decision"] in ("accept", "unknown")


def test_classify_table_without_json(trained, plant_folder):
    out, _ = trained
    result = aluloop("classify", str(plant_folder / "s002.csv"), "--model", str(out))
    assert result.returncode == 0 and "decision" in result.stdout


def test_a_spectrum_cut_short_of_a_line_window_is_sent_round_without_composition(trained, plant_folder, tmp_path):
    """The trained model's card (with its footprints) through the CLI: named windows, null composition."""
    out, _ = trained
    card = json.loads(out.with_suffix(".card.json").read_text())
    last = max(card["line_windows"], key=lambda w: w["footprint_hi_nm"])
    rows = [ln for ln in (plant_folder / "s001.csv").read_text().splitlines()
            if not ln[:1].isdigit() or float(ln.split(",")[0]) <= last["hi_nm"]]
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(rows) + "\n")
    result = aluloop("classify", str(cut), "--model", str(out), "--json")
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    assert r["decision"] == "unknown" and last["name"] in r["reason"]
    assert set(r["composition_wt_pct"].values()) == {None} and last["name"] in r["composition_note"]
    table = aluloop("classify", str(cut), "--model", str(out))
    assert table.returncode == 0 and "composition withheld" in table.stdout


@pytest.mark.parametrize("args, message", [
    (("classify", "nonexistent.csv", "--model", "nonexistent"), "no such file"),
])
def test_bad_input_is_one_line_with_exit_code_2(args, message):
    result = aluloop(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr.lower()


def test_a_negative_offset_limit_is_refused_by_name(tmp_path):
    result = aluloop("train", "libs", "--data", "simulated:broadband", "--out", str(tmp_path / "m.onnx"),
                     "--max-shift-nm", "-0.1")
    assert result.returncode == 2 and "'--max-shift-nm'" in result.stderr and not (tmp_path / "m.onnx").exists()


def test_an_unknown_state_reference_is_refused_before_any_work(tmp_path):
    result = aluloop("train", "libs", "--data", "simulated:broadband", "--out", str(tmp_path / "m.onnx"),
                     "--state-reference", "plant-c")
    assert result.returncode == 2 and "--state-reference 'plant-c' must be auto, none or a shipped" in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_unknown_model_name_lists_the_bundled_ones(plant_folder):
    result = aluloop("classify", str(plant_folder / "s001.csv"), "--model", "no-such-model")
    assert result.returncode == 2 and "no model 'no-such-model'" in result.stderr


def test_a_tampered_model_is_refused_by_the_cli(trained, plant_folder, tmp_path):
    out, _ = trained
    (tmp_path / "plant.onnx").write_bytes(out.read_bytes() + b"\0")
    (tmp_path / "plant.card.json").write_text(out.with_name("plant.card.json").read_text())
    result = aluloop("classify", str(plant_folder / "s001.csv"), "--model", str(tmp_path / "plant.onnx"))
    assert result.returncode == 2 and "does not match the model card" in result.stderr


def test_train_refuses_a_grade_without_a_family(tmp_path, plant_folder):
    folder = tmp_path / "bad"
    shutil.copytree(plant_folder, folder)
    labels = (folder / "labels.csv").read_text().replace(",5182,", ",9999,", 1)
    (folder / "labels.csv").write_text(labels)
    result = aluloop("train", "libs", "--data", str(folder), "--out", str(tmp_path / "m.onnx"))
    assert result.returncode == 2 and "grade '9999' has no family" in result.stderr


def test_train_refuses_a_negative_number_of_copies(tmp_path, plant_folder):
    result = aluloop("train", "libs", "--data", str(plant_folder), "--out", str(tmp_path / "m.onnx"), "--augment", "-1")
    assert result.returncode == 2 and "--augment" in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_train_refuses_an_out_path_that_is_not_onnx(tmp_path, plant_folder):
    result = aluloop("train", "libs", "--data", str(plant_folder), "--out", str(tmp_path / "m.pkl"))
    assert result.returncode == 2 and "must end in .onnx" in result.stderr


def test_toy_grades_have_a_family():
    from sorter.serving.families import family_of

    assert {family_of(g) for g in np.unique(toy_batch(GRID, 1, 0)[1])} <= {"1xxx", "3xxx", "5xxx", "6xxx", "non-Al"}


def test_train_refuses_plasma_terms_for_data_without_plasma_states(tmp_path, plant_folder):
    result = aluloop("train", "libs", "--data", str(plant_folder), "--out", str(tmp_path / "m.onnx"), "--plasma-terms")
    assert result.returncode == 2 and "carry no plasma state" in result.stderr
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("drift_nm, withheld", [(0.01, False), (-0.01, False), (None, True)])
def test_the_plants_own_spectrometer_after_a_calibration_drift_keeps_its_composition(trained, plant_folder,
                                                                                      tmp_path, drift_nm, withheld):
    """Later spectra from the spectrometer the plant trained on, exported without an instrument name,
    whose wavelength calibration drifted by 0.01 nm: the same instrument, so the composition stands.
    A grid two pixels off (``None``: another spectrometer) still has it withheld."""
    out, _ = trained
    source = read_spectrum(plant_folder / "s001.csv")
    step = float(np.median(np.diff(source.wavelength_nm)))
    shift = 2.0 * step if drift_nm is None else drift_nm
    later = write_spectrum(tmp_path / "later.csv", Spectrum(source.wavelength_nm + shift, source.intensity))
    result = aluloop("classify", str(later), "--model", str(out), "--json")
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    assert (set(r["composition_wt_pct"].values()) == {None}) is withheld
    assert ("not on the model's grid" in r["composition_note"]) is withheld


def test_a_family_head_is_written_into_a_model_and_its_card_and_then_served(trained, plant_folder, tmp_path):
    src, _ = trained
    out = tmp_path / "plant.onnx"
    shutil.copy(src, out)
    shutil.copy(src.with_name("plant.card.json"), tmp_path / "plant.card.json")
    result = aluloop("train", "family-head", "--model", str(out), "--n-per-grade", "12", "--chunks", "2")
    assert result.returncode == 0, result.stderr
    card = json.loads((tmp_path / "plant.card.json").read_text())
    assert {"min_probability", "max_distance", "families"} <= set(card["family_head"])
    assert "family_probabilities" in card["onnx_outputs"] and card["reproduce"].endswith("--chunks 2 --seed 0")
    classified = aluloop("classify", str(plant_folder), "--model", str(out), "--json")
    assert classified.returncode == 0, classified.stderr
    rows = [json.loads(line) for line in classified.stdout.splitlines()]
    assert rows and all(r["family"] in card["family_head"]["families"] for r in rows)


def test_a_family_head_for_a_missing_model_is_refused_by_name(tmp_path):
    result = aluloop("train", "family-head", "--model", str(tmp_path / "none.onnx"))
    assert result.returncode == 2 and "--model" in result.stderr and "does not exist" in result.stderr
