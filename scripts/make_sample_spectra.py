"""Regenerate ``sample_spectra/``: two simulated piece spectra per grade and instrument, one CSV and one JCAMP-DX.

Each is what a sorter reports for a piece: the mean of ``SHOTS_PER_PIECE`` shots (sorter/shots.py).

    python scripts/make_sample_spectra.py [OUT_DIR]

Deterministic: grade k on instrument m uses seed 1000 + 100 m + k, so the files and
``manifest.csv`` come out byte-identical on every run.
"""

import sys
from pathlib import Path

from sorter.datasets import write_dataset
from sorter.shots import SHOTS_PER_PIECE, ShotPlan
from sorter.simulate import simulate_batch

GRADES = ["1050A", "2024", "3003", "3104", "5052", "5182", "5754", "6061", "6063", "6082", "7075", "A356.2",
          "A380", "copper", "brass", "zinc_diecast", "steel", "stainless", "lead"]
INSTRUMENTS = ["broadband", "highres"]


def main(out: Path) -> None:
    if out.exists():
        for old in list(out.glob("*.csv")) + list(out.glob("*.jdx")):
            old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    for m, instrument in enumerate(INSTRUMENTS):
        for k, grade in enumerate(GRADES):
            seed = 1000 + 100 * m + k
            batch = simulate_batch([grade], 2, instrument, seed, shot_plan=ShotPlan(n_shots=SHOTS_PER_PIECE))
            write_dataset(batch, out, fmt="csv", seed=seed, rows=[0])
            write_dataset(batch, out, fmt="jcamp", seed=seed, rows=[1])
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    summary = (f"{len(list(out.glob('*.csv'))) - 1} CSV + {len(list(out.glob('*.jdx')))} JCAMP-DX files, "
               f"manifest.csv, {size / 1e6:.2f} MB in {out}")
    print(summary)  # noqa: T201 (command-line script)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "sample_spectra")
