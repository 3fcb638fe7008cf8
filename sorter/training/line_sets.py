"""The line sets a plant's model chooses among: the standard windows, or those plus weaker Mn and Cr lines.

``feature_lines.csv`` was chosen on the project's simulator. On another plasma model and spectrometer
(issue 30, peer-c) its Mn and Cr lines read the few tenths of a percent that separate 5052, 5754 and
5182 poorly, and weaker lines near the detector's response peak (Mn II 344.20/346.03) or beside a
stronger neighbour read them better. Whether they help is the plant's data's to say: model selection
(:mod:`sorter.training.selection`) scores both sets by grouped cross-validation. The bundled models
and the simulated-data recipe keep the standard set.
"""

from __future__ import annotations

from importlib.resources import as_file, files

from blending.catalogue.tables import read_csv_file
from blending.errors import InputError
from sorter.preprocess.lines import COLUMNS, FeatureLine, _from_row, feature_lines

LINE_SETS = ("standard", "extended")
EXTRA_LINES_CSV = "extra_feature_lines.csv"


def extra_lines() -> tuple[FeatureLine, ...]:
    """The extra windows of the extended set (``sorter/data/extra_feature_lines.csv``)."""
    # not feature_lines(path): that file must hold a reference line, and these are all analytes
    with as_file(files("sorter.data") / EXTRA_LINES_CSV) as path:
        return tuple(_from_row(r) for r in read_csv_file(path, required_columns=COLUMNS))


def line_set(name: str) -> tuple[FeatureLine, ...] | None:
    """The feature lines of set ``name``: None (the model's default file) for "standard"."""
    if name == "standard":
        return None
    if name == "extended":
        standard = feature_lines()
        known = {line.name for line in standard}
        return standard + tuple(line for line in extra_lines() if line.name not in known)
    raise InputError(f"line set: {name!r} is not one of {', '.join(LINE_SETS)}", field="lines")
