"""Measure each bundled model's composition error, split into random and shared parts, and write it into its card.

Held-out 16-shot pieces of every aluminium grade the model knows are simulated in each of the 27
condition cells of :data:`sorter.training.composition_error.CONDITIONS` (plasma temperature third x
gate spread x noise level, the training ranges), from seeds training never used
(:data:`HELD_OUT_SEED`), and classified by the bundled model through :class:`sorter.serving.Sorter`
(the serving path). :func:`sorter.training.composition_error.composition_error` turns the residuals
into per grade and element ``bias``, ``random_sd`` and ``shared_sd``; the card gets them as
``composition_error`` (schema version 3). The ONNX files and their sha256 are untouched.

    python -m research.card_composition_error --write-cards      # about 2 x 3 minutes on one core
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

HELD_OUT_SEED = 31          # cell k of model m uses seed HELD_OUT_SEED * 1000 + k
PIECES_PER_CELL = 16        # per grade and cell: 13 grades x 27 cells x 16 = 5,616 pieces per model


def measure(model: str, pieces_per_cell: int = PIECES_PER_CELL, cache: Path | None = None) -> dict:
    """The ``composition_error`` card entry of the bundled ``model`` (the classified pieces kept in
    ``cache/composition_error_MODEL_N.npz`` when a cache folder is given)."""
    from sorter.serving import Sorter
    from sorter.serving.families import is_aluminium
    from sorter.training.composition_error import CONDITIONS, simulate_condition

    sorter = Sorter()
    _, card = sorter.cards[model]
    grades = [g for g in card.classes if is_aluminium(g)]
    elements = list(card.elements)
    file = None if cache is None else cache / f"composition_error_{model}_{pieces_per_cell}.npz"
    if file is not None and file.exists():
        z = np.load(file)
        predicted, cells, true_all, est_all = list(z["predicted"]), list(z["cells"]), z["true"], z["estimate"]
        return entry(predicted, cells, true_all, est_all, elements, len(grades), pieces_per_cell)
    predicted, cells, true, estimate = [], [], [], []
    for k, condition in enumerate(CONDITIONS):
        batch = simulate_condition(card.instrument, grades, pieces_per_cell, HELD_OUT_SEED * 1000 + k, condition)
        results = sorter.classify_array(batch.wavelength_nm, batch.intensity, instrument=card.instrument, model=model)
        predicted += [r.grade if r.decision == "accept" else "" for r in results]
        cells += [k] * len(results)
        true.append(np.array([[batch.composition_wt_pct[i, batch.elements.index(e)] if e in batch.elements else 0.0
                               for e in elements] for i in range(len(batch.labels))]))
        estimate.append(np.array([[np.nan if r.composition_wt_pct.get(e) is None else r.composition_wt_pct[e]
                                   for e in elements] for r in results]))
    true_all, est_all = np.concatenate(true), np.concatenate(estimate)
    if file is not None:
        np.savez_compressed(file, predicted=np.array(predicted), cells=np.array(cells), true=true_all,
                            estimate=est_all)
    return entry(predicted, cells, true_all, est_all, elements, len(grades), pieces_per_cell)


def entry(predicted, cells, true_all, est_all, elements, n_grades: int, pieces_per_cell: int) -> dict:
    from sorter.training.composition_error import CONDITIONS, composition_error, unknown_prior

    return {
        "source": (f"{len(predicted)} held-out simulated 16-shot pieces of the {n_grades} aluminium grades, "
                   f"{pieces_per_cell} per grade in each of {len(CONDITIONS)} condition cells (plasma temperature "
                   f"third x gate spread x noise level of the training ranges), seeds {HELD_OUT_SEED * 1000}-"
                   f"{HELD_OUT_SEED * 1000 + len(CONDITIONS) - 1}; by accepted predicted grade"),
        "reproduce": "python -m research.card_composition_error --write-cards",
        "units": "wt%; bias = mean of (estimate - truth), subtracted from lot means; random_sd per piece; "
                 "shared_sd = spread of the condition cells' mean bias (sampling noise not subtracted) plus "
                 "the bias's standard error",
        "grades": composition_error(predicted, cells, true_all, est_all, elements),
        "unknown": unknown_prior(true_all, elements),
    }


def main(argv: list[str] | None = None) -> None:
    from sorter.serving.card import CARD_SCHEMA_VERSION, ModelCard
    from sorter.serving.registry import bundled_cards

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-cards", action="store_true", help="write the figures into models/*.card.json")
    parser.add_argument("--pieces-per-cell", type=int, default=PIECES_PER_CELL)
    parser.add_argument("--model", action="append", help="only this bundled model (repeatable)")
    parser.add_argument("--cache", type=Path, help="keep the classified pieces in this folder and reuse them")
    args = parser.parse_args(argv)
    for name, (path, _) in bundled_cards().items():
        if args.model and name not in args.model:
            continue
        start = time.perf_counter()
        figures = measure(name, args.pieces_per_cell, args.cache)
        print(f"{name}: {time.perf_counter() - start:.0f} s")
        for grade in ("3104", "5182", "6063"):
            row = figures["grades"].get(grade, {})
            print("  " + grade + ": " + ", ".join(f"{e} bias {v['bias']:+.4f} random {v['random_sd']:.4f} "
                                              f"shared {v['shared_sd']:.4f}" for e, v in row.items()
                                              if e in ("Si", "Fe", "Cu", "Mn", "Mg", "Zn")))
        if args.write_cards:
            card_file = path.with_name(path.name[:-5] + ".card.json")
            data = ModelCard.read(card_file)
            data.composition_error = figures
            data.schema_version = CARD_SCHEMA_VERSION
            data.write(card_file)
            print(f"  wrote {card_file}")


if __name__ == "__main__":
    main()
