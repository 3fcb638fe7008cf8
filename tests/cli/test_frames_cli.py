"""``aluloop frames simulate`` and ``aluloop frames analyze``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aluloop.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("frames")
    result = runner.invoke(app, ["frames", "simulate", "--n", "2", "--out", str(out), "--seed", "7"])
    assert result.exit_code == 0, result.output
    return out


def test_simulate_writes_frames_and_truth(simulated):
    truth = json.loads((simulated / "truth.json").read_text())
    assert [f["file"] for f in truth["frames"]] == ["frame_0000.png", "frame_0001.png"]
    assert all((simulated / f["file"]).exists() and (simulated / f["labels"]).exists() for f in truth["frames"])
    assert truth["empty_belt"] and truth["frames"][0]["pieces"]


def test_analyze_json_one_object_per_frame(simulated):
    files = [str(simulated / f"frame_000{k}.png") for k in range(2)]
    result = runner.invoke(app, ["frames", "analyze", *files, "--json", "--frame-interval-s", "0.2",
                                 "--empty-belt", str(simulated / "belt_empty_0.png")])
    assert result.exit_code == 0, result.output
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["file"] for o in objs] == files
    pieces = [p for o in objs for p in o["pieces"]]
    assert pieces and len({p["piece_id"] for p in pieces}) == len(pieces)     # each piece once
    p = pieces[0]
    assert set(p) == {"piece_id", "bbox", "centroid", "area_mm2", "visual_class", "probabilities",
                      "time_to_ejector_s"}
    assert sum(p["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    # ejector 1500 mm from the left edge at 2.5 m/s
    assert p["time_to_ejector_s"] == pytest.approx((1500 - p["centroid"][0] / 1.5) / 2500, abs=1e-3)


def test_unreadable_and_empty_files_exit_2_and_the_rest_is_analysed(simulated, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.jpg"
    junk.write_text("not an image")
    good = str(simulated / "frame_0000.png")
    result = runner.invoke(app, ["frames", "analyze", str(empty), good, str(junk), "--json"])
    assert result.exit_code == 2
    assert "empty.png: the file is empty" in result.stderr
    assert "junk.jpg: not a readable PNG or JPEG image" in result.stderr
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["file"] for o in objs] == [str(empty), good, str(junk)]
    assert objs[1]["pieces"] and "error" in objs[0] and "error" in objs[2]


def test_bad_options_are_refused(simulated):
    result = runner.invoke(app, ["frames", "analyze", str(simulated / "frame_0000.png"), "--px-per-mm", "-1"])
    assert result.exit_code == 2 and "--px-per-mm" in result.stderr
    result = runner.invoke(app, ["frames", "simulate", "--n", "0", "--out", str(simulated / "x")])
    assert result.exit_code == 2


def test_help_keeps_the_units_in_brackets():
    """Units are written [px/mm], [m/s]; rich markup would swallow them as tags."""
    from typer.testing import CliRunner

    from aluloop.cli import app

    out = CliRunner().invoke(app, ["frames", "analyze", "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "Calibration [px/mm]" in out.output
    assert "Belt speed [m/s]" in out.output
