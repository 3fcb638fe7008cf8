"""docs/benchmarks.md is what the bench scripts' JSON files say: regenerated, never edited by hand."""

from __future__ import annotations

from bench.report import main


def test_benchmarks_page_is_generated_from_the_bench_results(capsys):
    assert main(["--check"]) == 0, capsys.readouterr().err
