"""Read a camera frame from a file: PNG or JPEG, colour or grey, any size, as BGR uint8."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from blending.errors import InputError


def read_frame(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 BGR; an :class:`InputError` naming the file if it is missing, empty or not an image."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not an image") from None
    if not data:
        raise InputError(f"{path}: the file is empty")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise InputError(f"{path}: not a readable PNG or JPEG image")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        raise InputError(f"{path}: {img.dtype} pixels; expected 8- or 16-bit")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if min(img.shape[:2]) < 16:
        raise InputError(f"{path}: {img.shape[1]}x{img.shape[0]} px is too small to hold a piece")
    return img
