"""Product benchmarks: each script prints its figures with a ratio against a baseline measured
in the same run and writes them to ``bench/results/NAME.json``; ``python -m bench.report``
turns those files into ``docs/benchmarks.md``. Run from the repository root:
``python -m bench.NAME``.
"""
