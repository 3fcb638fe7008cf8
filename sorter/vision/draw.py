"""Pictures of what the camera found: outlines, piece ids and visual classes drawn on the frame."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# one colour per visual class (BGR), chosen to be told apart on a grey belt
CLASS_COLOURS = {"painted_can": (255, 80, 255), "bare_wrought": (255, 255, 0), "cast": (0, 200, 255),
                 "copper": (0, 80, 255), "brass": (0, 255, 255), "steel_stainless": (255, 128, 0),
                 "non_metal": (0, 0, 255)}


def draw_pieces(image: np.ndarray, pieces: Sequence) -> np.ndarray:
    """A copy of ``image`` with each piece's outline and ``#id class p`` drawn (PieceReport objects)."""
    out = image.copy()
    for p in pieces:
        colour = CLASS_COLOURS.get(p.visual_class, (255, 255, 255))
        if p.detection is not None:
            cv2.drawContours(out, [p.detection.contour], -1, colour, 2, cv2.LINE_AA)
        x, y, w, h = p.bbox
        label = f"#{p.piece_id} {p.visual_class} {p.probabilities[p.visual_class]:.2f}"
        ty = y - 6 if y > 18 else y + h + 16
        cv2.putText(out, label, (x, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, label, (x, ty), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return out
