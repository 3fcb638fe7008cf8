"""Add window footprints to model cards written before training recorded them.

Since the runtime checks that an input grid spans each line window *with its background bands*,
training writes ``footprint_lo_nm`` / ``footprint_hi_nm`` per window. This reads the same figures
back from the model's own ONNX weights (``window_footprints_from_graph``; a test checks they equal
what training writes) and adds them to an older card, which makes it a card of schema version 2
(``sorter.serving.card.CARD_SCHEMA_VERSION``); the model file and its sha256 are untouched.

    python -m research.add_card_footprints models/broadband.onnx models/highres.onnx
"""

import json
import sys
from pathlib import Path

from sorter.serving.card import ModelCard, card_path_for
from sorter.training.onnx_export import window_footprints_from_graph


def main(paths: list[str]) -> None:
    for name in paths:
        model = Path(name)
        card_path = card_path_for(model)
        data = json.loads(card_path.read_text(encoding="utf-8"))   # an old card: the loader refuses it
        windows = data["line_windows"]
        foot = window_footprints_from_graph(model.read_bytes(), data["wavelength_grid_nm"], len(windows))
        for w, (lo, hi) in zip(windows, foot, strict=True):
            w["footprint_lo_nm"], w["footprint_hi_nm"] = float(lo), float(hi)
        data["schema_version"] = 2
        card = ModelCard.from_dict(data, str(card_path))   # checks it now reads as a current card
        card.write(card_path)
        summary = f"{card_path}: footprints of {len(card.line_windows)} windows, {foot.min():g}-{foot.max():g} nm"
        print(summary)  # noqa: T201 (command-line script)


if __name__ == "__main__":
    main(sys.argv[1:])
