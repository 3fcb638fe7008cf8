"""Add window footprints to model cards written before training recorded them.

Since the runtime checks that an input grid spans each line window *with its background bands*,
training writes ``footprint_lo_nm`` / ``footprint_hi_nm`` per window. This reads the same figures
back from the model's own ONNX weights (``window_footprints_from_graph``; a test checks they equal
what training writes) and adds them to an older card; the model file and its sha256 are untouched.

    python scripts/add_card_footprints.py models/broadband.onnx models/highres.onnx
"""

import sys
from pathlib import Path

from sorter.classify.card import ModelCard, card_path_for
from sorter.classify.onnx_export import window_footprints_from_graph


def main(paths: list[str]) -> None:
    for name in paths:
        model = Path(name)
        card_path = card_path_for(model)
        card = ModelCard.read(card_path)
        foot = window_footprints_from_graph(model.read_bytes(), card.wavelength_grid_nm, len(card.line_windows))
        for w, (lo, hi) in zip(card.line_windows, foot, strict=True):
            w["footprint_lo_nm"], w["footprint_hi_nm"] = float(lo), float(hi)
        card.write(card_path)
        summary = f"{card_path}: footprints of {len(card.line_windows)} windows, {foot.min():g}-{foot.max():g} nm"
        print(summary)  # noqa: T201 (command-line script)


if __name__ == "__main__":
    main(sys.argv[1:])
