"""The committed ``sample_spectra/``: complete, readable, inside the grade limits, small."""

from pathlib import Path

import pytest

from blending.catalogue.composition import Composition
from blending.catalogue.spec import get_alloy
from sorter.datasets import composition_from_manifest, read_manifest
from sorter.grades import contaminant_catalogue
from sorter.io import read_spectrum

SAMPLES = Path(__file__).resolve().parents[2] / "sample_spectra"


def test_manifest_lists_every_file_and_each_reads_back():
    rows = read_manifest(SAMPLES / "manifest.csv")
    on_disk = {p.name for p in SAMPLES.iterdir() if p.suffix in (".csv", ".jdx") and p.name != "manifest.csv"}
    assert {r["file"] for r in rows} == on_disk
    for row in rows:
        spectrum = read_spectrum(SAMPLES / row["file"])
        assert spectrum.metadata.instrument == row["instrument"]
        assert spectrum.n_points == (4096 if row["instrument"] == "broadband" else 2048)


def test_every_grade_has_both_instruments_and_both_formats():
    rows = read_manifest(SAMPLES / "manifest.csv")
    seen = {(r["grade"], r["instrument"], Path(r["file"]).suffix) for r in rows}
    grades = {r["grade"] for r in rows}
    assert {"5182", "6063", "A356.2", "brass", "steel"} <= grades
    assert seen == {(g, i, s) for g in grades for i in ("broadband", "highres") for s in (".csv", ".jdx")}


@pytest.mark.parametrize("row", read_manifest(SAMPLES / "manifest.csv")[::7], ids=lambda r: r["file"])
def test_true_compositions_are_inside_the_grade(row):
    comp = composition_from_manifest(row)
    if row["grade"] in contaminant_catalogue():
        spec = contaminant_catalogue()[row["grade"]]
        assert comp[spec.balance] >= spec.balance_min_wt_pct
    else:
        bulk = {k: v for k, v in comp.items() if k != "Al"}
        assert get_alloy(row["grade"]).check(Composition(bulk)).in_spec


def test_sample_set_stays_under_5_mb():
    assert sum(p.stat().st_size for p in SAMPLES.iterdir()) < 5e6
