"""``aluloop classify`` on a sorting batch as a user has it (issue 24, items 5-8): folders, patterns and
files that are no spectra; valid JSON whatever the spectrum; tables that survive a pipe; the accept bar."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sorter.io import read_spectrum, write_spectrum
from sorter.spectrum import Spectrum

SAMPLES = Path(__file__).resolve().parents[2] / "sample_spectra"


def aluloop(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The command as typed, its stdout piped (not a terminal), as in a CI log or ``| tee``."""
    exe = shutil.which("aluloop")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "aluloop.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def batch(tmp_path):
    """A sorting batch folder: four spectra copied from sample_spectra, plus what lies beside them."""
    folder = tmp_path / "batch"
    folder.mkdir()
    for name in ("5182_broadband_seed1005_0000.csv", "5182_broadband_seed1005_0001.jdx",
                 "6063_highres_seed1108_0000.csv", "brass_broadband_seed1014_0000.csv"):
        shutil.copy(SAMPLES / name, folder / name)
    shutil.copy(SAMPLES / "manifest.csv", folder / "manifest.csv")
    (folder / "notes.txt").write_text("piece 7 was wet\n")
    (folder / "README.md").write_text("# batch of 6 December\n")
    return folder


def test_the_sample_folder_is_classified_with_manifest_skipped_by_name():
    result = aluloop("classify", str(SAMPLES), "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    spectra = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".csv", ".jdx") and p.name != "manifest.csv")
    assert [r["file"] for r in rows] == [str(p) for p in spectra]
    notes = result.stderr.strip().splitlines()
    assert len(notes) == 1 and "manifest.csv" in notes[0] and notes[0].startswith("skipped")


def test_a_folder_and_a_quoted_pattern_skip_what_is_not_a_spectrum(batch):
    result = aluloop("classify", str(batch))
    assert result.returncode == 0, result.stderr
    for name in ("5182_broadband_seed1005_0000.csv", "5182_broadband_seed1005_0001.jdx",
                 "6063_highres_seed1108_0000.csv", "brass_broadband_seed1014_0000.csv"):
        assert name in result.stdout
    skipped = result.stderr.strip().splitlines()
    assert len(skipped) == 2      # manifest.csv and notes.txt; README.md has no spectrum extension
    assert any("manifest.csv" in s for s in skipped) and any("notes.txt" in s for s in skipped)
    pattern = aluloop("classify", str(batch / "5182*"), "--json")
    assert pattern.returncode == 0, pattern.stderr
    assert [json.loads(line)["grade"] for line in pattern.stdout.splitlines()] == ["5182", "5182"]


def test_one_bad_file_among_good_ones_is_named_and_the_rest_classified(batch, tmp_path):
    single = tmp_path / "single_point.csv"
    single.write_text("wavelength_nm,intensity\n300.0,512\n")
    empty = tmp_path / "empty_export.csv"
    empty.write_text("")
    broken = tmp_path / "broken.csv"
    broken.write_text("wavelength_nm,intensity\n300.0,512\n300.1,abc\n300.2,9\n")
    good = batch / "6063_highres_seed1108_0000.csv"
    result = aluloop("classify", str(single), str(good), str(empty), str(broken), "--json")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["file"] for line in result.stdout.splitlines()] == [str(good)]
    notes = result.stderr.strip().splitlines()
    assert len(notes) == 3
    assert "single_point.csv" in notes[0] and "1 data point" in notes[0]
    assert "empty_export.csv" in notes[1] and "broken.csv" in notes[2]


def test_exit_2_only_when_nothing_could_be_classified(tmp_path):
    single = tmp_path / "single_point.csv"
    single.write_text("wavelength_nm,intensity\n300.0,512\n")
    alone = aluloop("classify", str(single))
    assert alone.returncode == 2
    assert len(alone.stderr.strip().splitlines()) == 1 and "single_point.csv" in alone.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    both = aluloop("classify", str(single), str(empty))
    assert both.returncode == 2 and "single_point.csv" in both.stderr and "empty.csv" in both.stderr
    assert "internal error" not in both.stderr


@pytest.mark.parametrize("scale", [0.0, 1e300])
def test_json_stays_json_with_null_and_a_reason_and_numpy_says_nothing(tmp_path, scale):
    """An all-zero export, or counts beyond what a float32 model reads: valid JSON, nulls with a reason."""
    s = read_spectrum(SAMPLES / "5182_broadband_seed1005_0000.csv")
    path = write_spectrum(tmp_path / "odd.csv", Spectrum(s.wavelength_nm, s.intensity * scale, s.metadata))
    result = aluloop("classify", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    row = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in the JSON"))
    assert row["decision"] == "unknown" and row["reason"]
    assert set(row["composition_wt_pct"].values()) == {None} and row["composition_note"]
    assert result.stderr == ""   # no RuntimeWarning from numpy
    table = aluloop("classify", str(path))
    assert table.returncode == 0 and table.stderr == "" and "nan" not in table.stdout.lower()


def test_piped_table_keeps_whole_file_names_grades_and_numbers(tmp_path):
    deep = tmp_path / "plant_line_2" / "shift_B_2026-12-06" / "conveyor_camera_batch_0042"
    deep.mkdir(parents=True)
    name = "A356.2_highres_seed1111_0000.csv"
    shutil.copy(SAMPLES / name, deep / name)
    shutil.copy(SAMPLES / "zinc_diecast_broadband_seed1015_0000.csv", deep / "zinc_diecast_broadband_piece.csv")
    result = aluloop("classify", str(deep))
    assert result.returncode == 0, result.stderr
    assert str(deep / name) in result.stdout
    assert str(deep / "zinc_diecast_broadband_piece.csv") in result.stdout
    assert "zinc_diecast 1.000" in result.stdout and "A356.2" in result.stdout
    assert "…" not in result.stdout
    info = aluloop("spectra", "info", str(deep / name))
    assert info.returncode == 0 and str(deep / name) in info.stdout and "…" not in info.stdout


def _least_sure_sample() -> tuple[Path, float]:
    result = aluloop("classify", str(SAMPLES), "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    row = min(rows, key=lambda r: max(r["probabilities"].values()))
    return Path(row["file"]), max(row["probabilities"].values())


def test_a_line_sets_its_own_accept_bar_from_the_command_line():
    path, p = _least_sure_sample()        # its top probability, to 4 decimals
    assert p <= 0.9998, "a sample spectrum with a top probability below 0.9998 is needed"
    above = aluloop("classify", str(path), "--json", "--min-accept-probability", f"{p + 1e-4:.4f}")
    below = aluloop("classify", str(path), "--json", "--min-accept-probability", f"{p - 1e-4:.4f}")
    assert json.loads(above.stdout)["decision"] == "unknown"
    assert json.loads(above.stdout)["reason"].startswith("low top probability")
    assert json.loads(below.stdout)["decision"] == "accept"
    bad = aluloop("classify", str(path), "--min-accept-probability", "1.5")
    assert bad.returncode == 2 and "--min-accept-probability" in bad.stderr and "1.5" in bad.stderr


def test_the_sorter_api_takes_a_bar_and_a_per_call_override():
    from sorter.serving import Sorter

    path, p = _least_sure_sample()
    spectrum = read_spectrum(path)
    strict = Sorter(min_accept_probability=min(1.0, p + 1e-4))
    assert strict.classify(spectrum).decision == "unknown"
    assert strict.classify(spectrum, min_accept_probability=p - 1e-4).decision == "accept"
    assert Sorter().classify(spectrum).decision == "accept"
    with pytest.raises(ValueError, match="min_accept_probability"):
        Sorter(min_accept_probability=float("nan"))


def test_classify_keeps_the_order_of_the_files_given():
    files = [SAMPLES / "7075_highres_seed1110_0001.jdx", SAMPLES / "1050A_broadband_seed1000_0000.csv"]
    result = aluloop("classify", *map(str, files), "--json")
    assert [json.loads(line)["file"] for line in result.stdout.splitlines()] == list(map(str, files))
    assert np.all([json.loads(line)["grade"] for line in result.stdout.splitlines()] == ["7075", "1050A"])


@pytest.mark.parametrize("model", ["broadband", "highres"])
def test_the_bundled_cards_accept_5182_over_5754_only_when_sure(model):
    """"An accept at p = 0.60 between 5182 and 5754 is a guess": the card's calibrated bar refuses it, and the
    card states the bar with the held-out evidence (pieces, wrong ones, Wilson 95% interval) behind it."""
    from sorter.serving.registry import bundled_cards
    from sorter.serving.reject import decide
    from sorter.training.accept import pieces_needed

    _, card = bundled_cards()[model]
    classes = card.classes
    P = np.zeros((1, len(classes)))
    P[0, classes.index("5182")], P[0, classes.index("5754")] = 0.60, 0.40
    quality = np.array([[10 * card.thresholds.min_snr, 0.5, 1000.0, 0.5]])
    d = decide(P, quality, classes, card.families, card.thresholds)[0]
    assert (d.grade, d.decision) == ("5182", "unknown") and d.reason.startswith("low top probability 0.600")
    calibration = card.metrics["accept_calibration"]
    assert calibration["target"] == 0.995 and "held-out" in calibration["source"]
    pair = calibration["pairs"]["5182|5754"]
    assert card.thresholds.pair_min_top_probability["5182|5754"] == pair["bar"] > 0.6
    # enough held-out pieces to back 99.5%: the lower end of the interval, not just the share
    assert pair["supported"] and pair["n_accepted"] >= pieces_needed() and pair["wilson_95"][0] >= 0.995
    assert calibration["pooled"]["supported"] and card.thresholds.min_top_probability == calibration["pooled"]["bar"]
