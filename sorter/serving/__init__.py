"""What a sorting line needs at run time: from a spectrum to grade, family, composition and accept/unknown.

:class:`Sorter` is the entry point every front end calls; under it ``registry`` (where the models
are, which one reads a spectrum), ``runtime`` (one verified ONNX model), ``card`` (the model card),
``reject`` (when a piece goes round again) and ``families``. onnxruntime and numpy only: importing
and using this package never imports scikit-learn (``sorter.training`` fits what it serves).
Names are resolved lazily, so ``import sorter.serving.card`` loads neither onnxruntime nor the
runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sorter.serving.registry import models_dir
    from sorter.serving.runtime import Classification
    from sorter.serving.sorter import Sorter

__all__ = ["Classification", "Sorter", "models_dir"]

_WHERE = {"Sorter": "sorter.serving.sorter", "Classification": "sorter.serving.runtime",
          "models_dir": "sorter.serving.registry"}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sorter.serving' has no attribute {name!r}")
