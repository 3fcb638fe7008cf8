"""Calibrate the bundled models' accept bars per grade pair on held-out simulated pieces.

Pieces are simulated as in training (16-shot piece spectra, the training plasma, noise and gate
ranges) but from seeds that training never used (:data:`HELD_OUT_SEED`), so none of them is a
training piece. The three 5xxx grades that the models confuse get most of them (:data:`PLAN`:
800 each of 5052, 5754 and 5182, then 600 more of 5052, whose pieces pair with 5754 only about
half the time), so that their pairs can back 99.5% (765 accepted pieces with no wrong one,
:func:`sorter.training.accept.pieces_needed`); every other aluminium grade gets 60. The bars and
their evidence (counts, Wilson 95% intervals) go into each card:
``thresholds.pair_min_top_probability``, ``thresholds.min_top_probability`` (the pooled bar)
and ``metrics.accept_calibration``. The card's sha256 is of the ONNX bytes, so the models are
untouched.

    python -m research.calibrate_accept --write-cards          # about 12 minutes on one core
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

HELD_OUT_SEED = 24
HARD = ("5052", "5754", "5182")
OTHERS = "other aluminium grades"
PLAN = ((HARD, 800), (OTHERS, 60), (("5052",), 600))   # (grades, pieces per grade); chunk k has seed 240 + k


def held_out_outputs(model: str, cache: Path | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(probabilities, labels, classes) of the bundled ``model`` on the held-out pieces of :data:`PLAN`."""
    from sorter.serving.families import is_aluminium
    from sorter.serving.registry import bundled_cards
    from sorter.serving.runtime import LibsRuntime
    from sorter.training.data import simulated_data

    path, card = bundled_cards()[model]
    runtime = LibsRuntime.load(path)
    P, labels = [], []
    for k, (grades, n) in enumerate(PLAN):
        if grades == OTHERS:
            grades = tuple(g for g in card.classes if g not in HARD and is_aluminium(g))
        file = None if cache is None else cache / f"accept_{model}_chunk{k}_{n}.npz"
        if file is not None and file.exists():
            z = np.load(file)
            P.append(z["probabilities"])
            labels.append(z["labels"])
            continue
        data = simulated_data(card.instrument, n, HELD_OUT_SEED * 10 + k, grades=list(grades))
        P.append(runtime.run(data.intensity)["probabilities"].astype(np.float64))
        labels.append(np.asarray(data.labels).astype(str))
        if file is not None:
            np.savez_compressed(file, probabilities=P[-1], labels=labels[-1])
    return np.concatenate(P), np.concatenate(labels), card.classes


def main(argv: list[str] | None = None) -> None:
    from sorter.serving.card import ModelCard, card_path_for
    from sorter.serving.registry import bundled_cards
    from sorter.training.accept import calibrate_accept, stated

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=["broadband", "highres"])
    ap.add_argument("--cache", type=Path, default=None, help="folder for the model outputs (reruns skip simulation)")
    ap.add_argument("--write-cards", action="store_true", help="write the bars into the bundled cards")
    args = ap.parse_args(argv)
    for model in args.models:
        start = time.perf_counter()
        if args.cache is not None:
            args.cache.mkdir(parents=True, exist_ok=True)
        P, labels, classes = held_out_outputs(model, cache=args.cache)
        path, card = bundled_cards()[model]
        cal = calibrate_accept(P, labels, classes, card.families)
        counts = {g: int(np.sum(labels == g)) for g in sorted(set(labels.tolist()))}
        source = (f"{labels.size} held-out simulated 16-shot pieces (seeds {HELD_OUT_SEED * 10}-"
                  f"{HELD_OUT_SEED * 10 + len(PLAN) - 1}, training conditions; per grade "
                  + ", ".join(f"{g} {n}" for g, n in counts.items()) + ")")
        report = cal.report(source)
        print(json.dumps({"model": model, "seconds": round(time.perf_counter() - start, 1), **report}, indent=1))
        if args.write_cards:
            card_path = card_path_for(path)
            card = ModelCard.read(card_path)
            card.thresholds.min_top_probability = stated(cal.pooled.bar)
            card.thresholds.pair_min_top_probability = cal.pair_bars
            card.metrics["accept_calibration"] = report
            card.write(card_path)


if __name__ == "__main__":
    main()
