"""Find the pieces in a frame: belt background model, shadow-aware foreground, touching-piece split.

The belt's colour at each pixel (its texture averaged out, times the light there) is learned from
empty-belt frames at half resolution. In a new frame each pixel's colour ``f`` is compared with the
belt's ``b`` as in Horprasert, Harwood & Davis (1999, "A statistical approach for real-time robust
background subtraction and shadow detection"): the brightness ratio ``alpha = f.b / b.b`` and the
chromatic distortion ``|f - alpha b| / |b|``. A shadow is darker belt of the same chromaticity
(``alpha`` in [``shadow_alpha``, 1]); a piece is anything with another chromaticity, much brighter
or much darker. The model follows the light: each frame's global gain (median ``alpha`` over the belt
pixels) rescales it at once, and the belt pixels are blended into it slowly.

Touching pieces are split by a watershed on the colour image seeded from the distance transform:
each blob's core (distance above a share of its own maximum) is one seed; a blob whose cores
separate at that share is two or more pieces. Optionally (``refine_solidity``) a blob of low solidity,
the mark of pieces touching, is segmented again at full resolution inside its box.

Each piece's mask, found at half resolution, is upsampled and its outline placed again at full resolution
within a few pixels (``outline_band_px``, :func:`place_outline`): motion blur and JPEG spread an edge over
several pixels, and the piece ends where a pixel's colour is half-way from the belt's to the piece's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from blending.errors import InputError
from sorter.vision.contacts import ContactModel, cut_at_contacts
from sorter.vision.markers import grow as grow_markers
from sorter.vision.merging import MergeModel

_K3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_SUM3 = np.ones((1, 3), np.float32)   # cv2.transform with it sums the three channels


@dataclass
class Detection:
    """One piece found in a frame (full-resolution pixel coordinates)."""

    bbox: tuple[int, int, int, int]      # x, y, w, h [px]
    centroid: tuple[float, float]        # x, y [px]
    area_px: float                       # [px]
    mask: np.ndarray                     # (h, w) bool inside bbox
    contour: np.ndarray                  # (n, 1, 2) int32, full-resolution image coordinates
    touches_edge: tuple[bool, bool]      # (upstream = left edge, downstream = right edge)


@dataclass
class Segmenter:
    """Belt background model and the segmentation of frames against it.

    Parameters
    ----------
    scale : int
        Work at 1/scale resolution (1 or 2) [-].
    chroma_threshold : float
        Chromatic distortion above which a pixel is a piece [-].
    bright_threshold : float
        Brightness ratio above which a pixel is a piece [-].
    dark_threshold : float
        Brightness ratio below which a pixel is a piece, not a shadow [-].
    min_area_px : float
        Blobs smaller than this are noise [px at full resolution].
    min_defect_px : float
        A concavity of the outline shallower than this is not a junction [px at working resolution].
    max_cut_ratio : float
        Two concavities are a junction between pieces when the cut joining them is shorter than this
        many times the sum of their depths [-].
    split_share : float
        A blob's cores: distance transform above this share of its maximum [-].
    learning_rate : float
        Share of a frame's belt pixels blended into the model [-].
    update_every : int
        Blend every this many frames (the global gain follows every frame) [-].
    refine_solidity : float
        A blob whose solidity (area over its convex hull's) is below this is segmented again at full
        resolution inside its box (belt test, morphology, neck cuts and watershed), where a thin strip
        of belt or a shallow concavity between touching pieces survives; 0 (the default) never does.
        On held-out frames 0.75 finds more pieces and fewer fragments, at a cost in time: see
        docs/camera.md [-].
    max_hole_px : float
        Belt-like holes inside a blob up to this size are filled: a printed can's dark or grey band or a
        steel sheet's belt-coloured patch, which would leave the piece ring-shaped and its distance
        transform with several cores (the piece shattered by the watershed); belt enclosed by a ring of
        touching pieces is larger [px at full resolution].
    contacts : bool
        Cut each part of the split again where the bundled contact network (:mod:`sorter.vision.contacts`)
        sees two pieces meet: pieces touching along a straight contact or overlapping broadly, which shape
        alone leaves one detection [-].
    min_contact_core_px : float
        A region between contacts smaller than this is no piece of its own [px at working resolution].
    merge : bool
        Join touching parts of a blob that the learned pair model (:mod:`sorter.vision.merging`) judges
        one piece: the fragments of a wire, an L-profile or a printed can cut where it should not be [-].
    refine_thin_px : float
        A blob at most this thick (largest inscribed radius; a wire) has its outlines
        redrawn at full resolution inside its box, the split unchanged; 0 (the default) never does: the
        outlines of ``outline_band_px`` place a wire's edges as well (tuning frames: the same IoU) in less
        time [px at working resolution].
    outline_band_px : float
        Every other piece's outline is placed again at full resolution within this many pixels of its
        upsampled working-resolution mask, where a blurred edge is half piece, half belt
        (:func:`place_outline`); 0 keeps the upsampled mask [px at full resolution].
    """

    scale: int = 2
    chroma_threshold: float = 0.10
    bright_threshold: float = 1.22
    dark_threshold: float = 0.45
    min_area_px: float = 150.0
    split_share: float = 0.5
    learning_rate: float = 0.05
    update_every: int = 4
    min_defect_px: float = 4.0
    max_cut_ratio: float = 2.2
    refine_solidity: float = 0.0
    max_hole_px: float = 300.0
    merge: bool = True
    refine_thin_px: float = 0.0
    outline_band_px: float = 2.0
    contacts: bool = True
    min_contact_core_px: float = 48.0

    def fit(self, empty_frames: Sequence[np.ndarray]) -> Segmenter:
        """Learn the belt from frames with nothing on it (BGR uint8, all the same size)."""
        if not empty_frames:
            raise InputError("empty_frames: need at least one frame of empty belt", field="empty_frames")
        acc = None
        for img in empty_frames:
            small = self._small(img).astype(np.float32)
            acc = small if acc is None else acc + small
        self.background_ = cv2.GaussianBlur(acc / len(empty_frames), (0, 0), 3.0)
        self.shape_ = empty_frames[0].shape[:2]
        return self

    def _small(self, img: np.ndarray) -> np.ndarray:
        if self.scale == 1:
            return img
        h, w = img.shape[:2]
        # at exactly half size, bilinear sampling is the 2x2 mean (as INTER_AREA) and several times quicker
        return cv2.resize(img, (w // self.scale, h // self.scale), interpolation=cv2.INTER_LINEAR)

    def foreground(self, img: np.ndarray, small: np.ndarray | None = None) -> np.ndarray:
        """(h/scale, w/scale) uint8 mask of piece pixels (255), shadows excluded; updates the model.

        ``small`` is ``img`` already at working resolution, if the caller has it.
        """
        if not hasattr(self, "background_"):
            self.fit_from_frame(img)
        if img.shape[:2] != self.shape_:
            raise InputError(f"frame is {img.shape[1]}x{img.shape[0]} px; the belt model was learned on "
                             f"{self.shape_[1]}x{self.shape_[0]}", field="frame")
        f = (self._small(img) if small is None else small).astype(np.float32)
        b = self.background_
        # OpenCV arithmetic, not numpy: the same sums at a fraction of the time
        bb = cv2.transform(cv2.multiply(b, b), _SUM3) + 1e-3
        alpha = cv2.divide(cv2.transform(cv2.multiply(f, b), _SUM3), bb)
        # the light may have changed since the model was learned: the median ratio is the global gain
        gain = float(np.median(alpha[::7, ::7]))
        if 0.3 < gain < 3.0 and abs(gain - 1) > 0.01:
            cv2.multiply(b, gain, dst=b)
            bb *= gain * gain
            alpha *= 1.0 / gain
        fg8 = self._classify(f, b, bb, alpha)
        fg8 = cv2.morphologyEx(fg8, cv2.MORPH_OPEN, _K3)
        fg8 = cv2.morphologyEx(fg8, cv2.MORPH_CLOSE, _K3)
        self.frames_seen_ = getattr(self, "frames_seen_", 0) + 1
        if self.learning_rate > 0 and self.frames_seen_ % self.update_every == 0:
            belt = cv2.erode(255 - fg8, _K3, iterations=3)
            cv2.accumulateWeighted(f, self.background_, self.learning_rate, mask=belt)
        return fg8

    def _classify(self, f: np.ndarray, b: np.ndarray, bb: np.ndarray | None = None,
                  alpha: np.ndarray | None = None) -> np.ndarray:
        """uint8 mask (255) of the pixels of ``f`` that are not belt (colour ``b``) nor its shadow."""
        if bb is None:
            bb = cv2.transform(cv2.multiply(b, b), _SUM3) + 1e-3
            alpha = cv2.divide(cv2.transform(cv2.multiply(f, b), _SUM3), bb)
        cd2 = cv2.divide(cv2.transform(cv2.multiply(f, f), _SUM3), bb)
        cd2 -= cv2.multiply(alpha, alpha)
        fg8 = cv2.compare(cd2, self.chroma_threshold ** 2, cv2.CMP_GT)
        fg8 |= cv2.compare(alpha, self.bright_threshold, cv2.CMP_GT)
        fg8 |= cv2.compare(alpha, self.dark_threshold, cv2.CMP_LT)
        return fg8

    def fit_from_frame(self, img: np.ndarray) -> Segmenter:
        """No empty belt to learn from: the belt's colour as a smooth (quadratic) light field over the frame.

        At 1/16 resolution the pixels far from the median colour (pieces) are dropped and a quadratic
        surface in x and y is fitted to each channel of the rest, twice; pieces leave the fit alone.
        """
        h, w = img.shape[:2]
        tiny = cv2.resize(img, (max(w // 16, 4), max(h // 16, 4)), interpolation=cv2.INTER_AREA).astype(np.float64)
        th, tw = tiny.shape[:2]
        yy, xx = np.mgrid[0:th, 0:tw]
        xn, yn = (xx.ravel() + 0.5) / tw - 0.5, (yy.ravel() + 0.5) / th - 0.5
        A = np.stack([np.ones_like(xn), xn, yn, xn * xn, xn * yn, yn * yn], 1)
        pix = tiny.reshape(-1, 3)
        coef = np.zeros((6, 3))
        coef[0] = np.median(pix, 0)
        fit = A @ coef
        for _ in range(3):
            err = np.abs(pix - fit).sum(1) / np.maximum(fit.sum(1), 1.0)
            keep = err < max(0.12, float(np.quantile(err, 0.5)))
            if keep.sum() < 6:
                break
            coef, *_ = np.linalg.lstsq(A[keep], pix[keep], rcond=None)
            fit = A @ coef
        sh, sw = h // self.scale, w // self.scale
        yy, xx = np.mgrid[0:sh, 0:sw]
        xn, yn = (xx.ravel() + 0.5) / sw - 0.5, (yy.ravel() + 0.5) / sh - 0.5
        A = np.stack([np.ones_like(xn), xn, yn, xn * xn, xn * yn, yn * yn], 1)
        self.background_ = np.maximum(A @ coef, 1.0).reshape(sh, sw, 3).astype(np.float32)
        self.shape_ = (h, w)
        return self

    def segment(self, img: np.ndarray) -> list[Detection]:
        """The pieces in ``img`` (BGR uint8), touching ones split."""
        s = self.scale
        pieces = []   # (y0, x0, uint8 mask, resolution divisor of the mask)
        for oy, ox, blob, window, parts in self.blob_parts(img):
            if window is None:   # refined at full resolution
                pieces += parts
                continue
            if not parts:
                continue
            if len(parts) > 1 and self.merge:
                parts = self.merge_model_.merge(parts, window)
            if s > 1 and self.refine_thin_px > 0 and _thickness(blob) <= self.refine_thin_px:
                pieces += self._refine_edges(img, oy, ox, parts)
                continue
            pieces += [(oy, ox, part, s) for part in parts]
        return self._detections(pieces, img)

    def blob_parts(self, img: np.ndarray):
        """Per blob of the foreground: (y0, x0, blob, window, parts) at working resolution, the parts as split
        before any merging; ``window`` is None (and ``parts`` full-resolution pieces) for a refined blob."""
        s = self.scale
        small = self._small(img)
        fg = self.foreground(img, small)
        min_area = self.min_area_px / (s * s)
        if self.merge and not hasattr(self, "merge_model_"):
            self.merge_model_ = MergeModel.bundled()
        contacts = None
        if self.contacts:
            if not hasattr(self, "contact_model_"):
                self.contact_model_ = ContactModel.load()
            contacts = self.contact_model_.contacts(small, self.background_, fg)
        for oy, ox, blob in blobs(fg, min_area, self.max_hole_px / (s * s)):
            if s > 1 and self.refine_solidity > 0 and _solidity(blob) < self.refine_solidity:
                yield oy, ox, blob, None, self._refine(img, oy, ox, blob)
                continue
            window = small[oy:oy + blob.shape[0], ox:ox + blob.shape[1]]
            parts = self._split(blob, window, min_area, self.min_defect_px)
            if contacts is not None:
                seen = contacts[oy:oy + blob.shape[0], ox:ox + blob.shape[1]]
                if cv2.countNonZero(seen):
                    parts = [piece for part in parts
                             for piece in cut_at_contacts(part, window, seen, self.min_contact_core_px, min_area)]
            yield oy, ox, blob, window, parts

    def _split(self, blob: np.ndarray, window: np.ndarray, min_area: float, min_defect: float) -> list[np.ndarray]:
        """The pieces of one blob (uint8 0/1; ``window`` the image under it, same resolution)."""
        parts = split_at_necks(blob, min_defect, self.max_cut_ratio, min_area)
        markers = np.zeros(blob.shape, np.int32)
        k = 1
        for part in parts:
            dist = cv2.distanceTransform(part, cv2.DIST_L2, 3)
            cores = (dist > self.split_share * dist.max()).astype(np.uint8)
            m, core_labels = cv2.connectedComponents(cores, connectivity=8)
            if m <= 2:
                markers[cv2.erode(part, _K3) > 0 if len(parts) > 1 else part > 0] = k
                k += 1
                continue
            for j in range(1, m):
                markers[core_labels == j] = k
                k += 1
        if k == 2:   # one piece: the blob itself
            return [blob]
        return grow_markers(markers, k - 1, blob, window, min_area)

    def _refine(self, img: np.ndarray, oy: int, ox: int, blob: np.ndarray) -> list:
        """A blob that may be several pieces, segmented again at full resolution inside its box.

        The belt model there is the working-resolution one upsampled (it is smooth); the piece pixels
        are those of the full-resolution test within the (slightly grown) upsampled blob, so that a
        neighbouring blob in the same box stays out.
        """
        s = self.scale
        bh, bw = blob.shape
        Y0, X0, Y1, X1, f, b, fg = self._full_resolution(img, oy, ox, bh, bw)
        around = cv2.resize(blob, (bw * s, bh * s), interpolation=cv2.INTER_NEAREST)[:Y1 - Y0, :X1 - X0]
        fg &= cv2.dilate(around * 255, _K3, iterations=2)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        out = []
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            if area < self.min_area_px:
                continue
            oy2, ox2 = max(y - 1, 0), max(x - 1, 0)
            sub = (labels[oy2:y + h + 1, ox2:x + w + 1] == i).astype(np.uint8)
            if _solidity(sub) >= self.refine_solidity:   # the finer mask parted it: a whole piece
                out.append((Y0 + oy2, X0 + ox2, sub, 1))
                continue
            window = f[oy2:oy2 + sub.shape[0], ox2:ox2 + sub.shape[1]]
            out += [(Y0 + oy2, X0 + ox2, part, 1)
                    for part in self._split(sub, window, self.min_area_px, self.min_defect_px * s)]
        return out

    def _full_resolution(self, img: np.ndarray, oy: int, ox: int, bh: int, bw: int) -> tuple:
        """The belt test made again at full resolution in the box of working pixels (oy, ox, bh, bw), against
        the working-resolution belt model upsampled: (Y0, X0, Y1, X1) of the box in the frame, its pixels, the
        upsampled belt model and the foreground mask (opened and closed)."""
        s = self.scale
        H, W = img.shape[:2]
        Y0, X0 = oy * s, ox * s
        Y1, X1 = min(Y0 + bh * s, H), min(X0 + bw * s, W)
        f = img[Y0:Y1, X0:X1]
        b = cv2.resize(self.background_[oy:oy + bh, ox:ox + bw], (bw * s, bh * s),
                       interpolation=cv2.INTER_LINEAR)[:Y1 - Y0, :X1 - X0]
        fg = self._classify(f.astype(np.float32), b)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, _K3)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, _K3)
        return Y0, X0, Y1, X1, f, b, fg

    def _refine_edges(self, img: np.ndarray, oy: int, ox: int, parts: list[np.ndarray]) -> list:
        """The outlines of thin parts (wires) redrawn at full resolution; which piece is which stays as split.

        A wire is 6-10 px wide in the frame, so half a working pixel of error on each side costs it a fifth
        of its mask. Inside the parts' box the belt test is made again at full resolution (the belt model
        upsampled), and each piece pixel goes to the part whose (upsampled, one working pixel grown) mask
        holds it.
        """
        s = self.scale
        bh, bw = parts[0].shape
        Y0, X0, Y1, X1, f, b, fg = self._full_resolution(img, oy, ox, bh, bw)
        label = np.zeros((bh, bw), np.uint8)
        for k, part in enumerate(parts[:254], start=1):
            label[part > 0] = k
        label = cv2.dilate(label, _K3)
        up = cv2.resize(label, (bw * s, bh * s), interpolation=cv2.INTER_NEAREST)[:Y1 - Y0, :X1 - X0]
        ff = f.astype(np.float32)
        diff = ff - b
        out = []
        for k, part in enumerate(parts, start=1):
            fine = ((up == k) & (fg > 0)).astype(np.uint8)
            # where the blurred edge is half piece, half belt: each pixel's mix m along the belt-to-piece
            # colour line, f = b + m (p - b), with p the piece's colour inside; a high-contrast wire's blur
            # passes the belt test a few pixels out, a low-contrast one's fails it a few pixels in
            core = cv2.erode(fine, _K3, iterations=2)
            if cv2.countNonZero(core) >= 20:
                dp = np.float32(cv2.mean(ff, core)[:3]) - np.float32(cv2.mean(b, core)[:3])
                n2 = float(dp @ dp)
                if n2 > 100.0:   # at least 10 grey levels from the belt
                    mix = cv2.transform(diff, (dp / n2).reshape(1, 3))
                    fine = ((up == k) & (mix >= 0.5)).astype(np.uint8)
            if k <= 254 and cv2.countNonZero(fine) >= self.min_area_px:
                out.append((Y0, X0, fine, 1))
            else:
                out.append((oy, ox, part, s))
        return out

    def _detections(self, pieces, img: np.ndarray) -> list[Detection]:
        """Full-resolution detections of the pieces (y0, x0, uint8 0/1 mask, its resolution divisor).

        A working-resolution mask is upsampled bilinearly and, with ``outline_band_px``, its outline placed again
        at full resolution (:func:`place_outline`) within that many pixels of the upsampled one. A pixel another
        piece holds (its upsampled mask, or a pixel it took first) stays with it.
        """
        H, W = img.shape[:2]
        s = self.scale
        band = int(round(self.outline_band_px)) if s > 1 else 0
        # working pixels of margin around a mask, room for its outline to grow: the upsampled mask starts s px in
        pad = max(1, -(-band // s))
        placed = []   # (uint8 0/255 mask, X, Y, resolution divisor it came at)
        for oy, ox, m, ms in pieces:
            x, y, w, h = cv2.boundingRect(m)
            if ms == 1:
                local, X, Y = m[y:y + h, x:x + w] * np.uint8(255), ox + x, oy + y
            else:
                # bilinear upsampling of the half-resolution mask: pixel centres line up, no inset edge
                padded = np.zeros((h + 2 * pad, w + 2 * pad), np.uint8)
                padded[pad:-pad, pad:-pad] = m[y:y + h, x:x + w] * 255
                up = cv2.resize(padded, ((w + 2 * pad) * ms, (h + 2 * pad) * ms), interpolation=cv2.INTER_LINEAR)
                local = cv2.threshold(up, 127, 255, cv2.THRESH_BINARY)[1]
                X, Y = (ox + x - pad) * ms, (oy + y - pad) * ms
                # clip to the frame (X, Y stay multiples of ms: the belt model's pixels line up with the box)
                x0, y0 = max(-X, 0), max(-Y, 0)
                x0, y0 = x0 + x0 % ms, y0 + y0 % ms
                local = local[y0:max(H - Y, 0), x0:max(W - X, 0)]
                X, Y = X + x0, Y + y0
            placed.append((local, X, Y, ms))
        if band > 0:
            self._place_outlines(img, placed, band)
        out = []
        for local, X, Y, _ in placed:
            if local.size == 0:
                continue
            contours, _ = cv2.findContours(local, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            if not contours:
                continue
            bx, by, bw, bh = cv2.boundingRect(local)
            # moments of the 0/255 mask as grey levels: several times quicker than binaryImage=True, the same
            # centroid, and the area 255 times the pixel count
            mom = cv2.moments(local)
            area = float(mom["m00"]) / 255.0
            if area < self.min_area_px:
                continue
            cx = mom["m10"] / mom["m00"] + X
            cy = mom["m01"] / mom["m00"] + Y
            c = max(contours, key=cv2.contourArea) + [X, Y]
            mask = local[by:by + bh, bx:bx + bw] > 0
            bx, by = bx + X, by + Y
            edge = (bx <= 1, bx + bw >= W - 1)
            out.append(Detection((bx, by, bw, bh), (float(cx), float(cy)), area, mask, c.astype(np.int32), edge))
        return out

    def _place_outlines(self, img: np.ndarray, placed: list, band: int) -> None:
        """Each upsampled mask of ``placed`` (uint8 0/255, X, Y, divisor) replaced, in place, by its outline placed
        at full resolution (:func:`place_outline`); full-resolution masks (wires) are kept as they are. Pieces in
        order: a pixel an earlier piece took, or a later piece's upsampled mask holds, stays with that piece."""
        s = self.scale
        boxes = np.array([(X, Y, X + m.shape[1], Y + m.shape[0]) for m, X, Y, _ in placed], int).reshape(-1, 4)
        # which boxes overlap which: at most a few pieces share a box with another
        meet = ((boxes[:, None, 0] < boxes[None, :, 2]) & (boxes[:, None, 2] > boxes[None, :, 0]) &
                (boxes[:, None, 1] < boxes[None, :, 3]) & (boxes[:, None, 3] > boxes[None, :, 1]))
        np.fill_diagonal(meet, False)
        near: list[list[int]] = [[] for _ in placed]
        for k, j in zip(*np.nonzero(meet), strict=True):
            near[k].append(j)
        for k, (local, X, Y, ms) in enumerate(placed):
            if ms == 1 or local.size == 0:
                continue
            h, w = local.shape
            others = None
            for j in near[k]:
                other, oX, oY, _ = placed[j]
                xa, ya = max(X, oX), max(Y, oY)
                xb, yb = min(X + w, oX + other.shape[1]), min(Y + h, oY + other.shape[0])
                if others is None:
                    others = np.zeros((h, w), np.uint8)
                cv2.bitwise_or(others[ya - Y:yb - Y, xa - X:xb - X], other[ya - oY:yb - oY, xa - oX:xb - oX],
                               dst=others[ya - Y:yb - Y, xa - X:xb - X])
            belt = self.background_[Y // s:(Y + h + s - 1) // s, X // s:(X + w + s - 1) // s]
            placed[k] = (place_outline(img[Y:Y + h, X:X + w], belt, s, local, others, band), X, Y, ms)


def place_outline(f: np.ndarray, belt: np.ndarray, scale: int, mask: np.ndarray, others: np.ndarray | None,
                  band_px: int, min_contrast: float = 10.0) -> np.ndarray:
    """A piece's outline placed at full resolution within ``band_px`` of a coarse one (uint8 0/255 ``mask``).

    Motion blur, JPEG and noise blur an edge over a few pixels; a pixel there is a mix of the piece's colour p and
    the belt's b, f = b + m (p - b), and it is the piece's where m >= 1/2, the edge of the unblurred piece. p is the
    mean colour of the mask's interior (deeper than ``band_px``), b the belt model (smooth: it is the light). Pixels
    deeper than ``band_px`` inside ``mask`` stay the piece's, pixels farther outside stay belt, and ``others``
    (uint8, nonzero where another piece holds the pixel; None for none) are never taken. A piece within
    ``min_contrast`` grey levels of the belt, or with no interior, keeps ``mask``.

    Parameters
    ----------
    f : (h, w, 3) uint8 BGR image over the mask's box [grey levels].
    belt : (ceil(h / scale), ceil(w / scale), 3) float32 belt model over the same box at 1/scale resolution, the
        box's corner on one of its pixels [grey levels].
    scale : the belt model's resolution divisor [-].
    """
    kernel = np.ones((2 * band_px + 1, 2 * band_px + 1), np.uint8)
    inner = cv2.erode(mask, kernel)
    step = max(1, mask.shape[0] // 16)
    if cv2.countNonZero(inner[::step]) < 10:
        return mask
    # (a contiguous copy first: numpy converts a strided view, and OpenCV averages one under a mask, slowly)
    ff = np.ascontiguousarray(f).astype(np.float32)
    # the interior's mean colour from 16 rows or so (a mean needs no more) minus the belt's, whose value at the
    # box's centre stands for it there (the belt model is smooth: it is the light)
    dp = np.float32(cv2.mean(ff[::step], inner[::step])[:3]) - belt[belt.shape[0] // 2, belt.shape[1] // 2]
    n2 = float(dp @ dp)
    if n2 < min_contrast ** 2:
        return mask
    # m >= 1/2  <=>  f.w >= b.w + 1/2 with w = dp / |dp|^2; b.w + 1/2 is smooth (the light): one level for the box
    # where it varies by less than a tenth of the mix, else computed at 1/scale and upsampled
    wt = (dp / n2).reshape(1, 3)
    level = cv2.transform(belt, np.float32([[*wt[0], 0.5]]))
    lo, hi, _, _ = cv2.minMaxLoc(level)
    if hi - lo < 0.1:
        level = (lo + hi) / 2
    else:
        h, w = mask.shape
        level = cv2.resize(level, (level.shape[1] * scale, level.shape[0] * scale), interpolation=cv2.INTER_LINEAR)
        if level.shape[0] < h or level.shape[1] < w:   # a frame of odd size: its last row or column has no model
            level = cv2.copyMakeBorder(level, 0, max(h - level.shape[0], 0), 0, max(w - level.shape[1], 0),
                                       cv2.BORDER_REPLICATE)
        level = level[:h, :w]
    new = cv2.compare(cv2.transform(ff, wt), level, cv2.CMP_GE)
    cv2.bitwise_and(new, cv2.dilate(mask, kernel), dst=new)
    if others is not None:
        cv2.bitwise_and(new, cv2.bitwise_not(others), dst=new)
    return cv2.bitwise_or(new, inner, dst=new)


def blobs(mask: np.ndarray, min_area: float, max_hole: float):
    """The blobs (8-connected) of ``mask`` (uint8 0/255) of at least ``min_area`` px: (y0, x0, uint8 0/1 blob in
    its box grown by a pixel), with their holes of at most ``max_hole`` px filled.

    From the outlines (``findContours``), not a labelling with statistics: several times quicker on a frame.
    A hole filled is a printed can's grey band or a steel sheet's belt-coloured patch, which would leave the
    piece ring-shaped and its distance transform with several cores; belt enclosed by touching pieces is
    larger and stays a hole.
    """
    contours, hier = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hier is None:
        return
    hier = hier[0]
    H, W = mask.shape
    for i, c in enumerate(contours):
        if hier[i, 3] >= 0:   # a hole: drawn with its outer outline
            continue
        x, y, w, h = cv2.boundingRect(c)
        if w * h < min_area:
            continue
        oy, ox = max(y - 1, 0), max(x - 1, 0)
        bh, bw = min(y + h + 1, H) - oy, min(x + w + 1, W) - ox
        blob = np.zeros((bh, bw), np.uint8)
        # one outline at a time: handed the frame's whole list, OpenCV converts every outline on each call
        cv2.drawContours(blob, [c], 0, 1, -1, offset=(-ox, -oy))
        k = hier[i, 2]
        while k >= 0:   # the holes of this outline
            if cv2.contourArea(contours[k]) > max_hole:
                cv2.drawContours(blob, [contours[k]], 0, 0, -1, offset=(-ox, -oy))
                # the hole's own border pixels belong to the blob
                cv2.drawContours(blob, [contours[k]], 0, 1, 1, offset=(-ox, -oy))
            k = hier[k, 0]
        if cv2.countNonZero(blob) >= min_area:
            yield oy, ox, blob


def _thickness(blob: np.ndarray) -> float:
    """The largest inscribed radius of a blob (uint8 0/1) [px]."""
    return cv2.minMaxLoc(cv2.distanceTransform(blob, cv2.DIST_L2, 3))[1]


def _solidity(blob: np.ndarray) -> float:
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    c = max(contours, key=cv2.contourArea)
    hull = cv2.contourArea(cv2.convexHull(c))
    return float(blob.sum()) / hull if hull > 0 else 1.0


def split_at_necks(blob: np.ndarray, min_depth: float, max_ratio: float, min_area: float,
                   max_cuts: int = 6) -> list[np.ndarray]:
    """Cut a blob (uint8 0/1) where two pieces meet: between two concavities of its outline.

    Where two convex pieces touch, the outline of their union has a concavity (convexity defect) on
    each side of the contact; the segment between the two deepest points is short compared with
    their depths. An L-shaped profile or a bent wire has a concavity on one side only, so it stays
    whole. Returns the parts (uint8 0/1, the blob's shape), each at least ``min_area`` px.
    """
    work = blob.copy()
    cuts = 0
    for _ in range(max_cuts):
        contours, _ = cv2.findContours(work, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        candidates = []
        for c in contours:
            if len(c) < 8 or cv2.contourArea(c) < 2 * min_area:
                continue
            hull = cv2.convexHull(c, returnPoints=False)
            try:
                defects = cv2.convexityDefects(c, hull)
            except cv2.error:   # a self-touching outline: no defects to read
                continue
            if defects is None:
                continue
            defects = defects.reshape(-1, 4)
            defects = defects[defects[:, 3] >= min_depth * 128]   # depth in 1/256 px
            deep = [(c[f][0], d / 256.0) for f, d in defects[:, 2:]]
            for a in range(len(deep)):
                for b in range(a + 1, len(deep)):
                    (pa, da), (pb, db) = deep[a], deep[b]
                    if max(da, db) < min_depth:
                        continue
                    ratio = float(np.hypot(*(pa - pb))) / (da + db)
                    if ratio < max_ratio:
                        candidates.append((ratio, tuple(int(v) for v in pa), tuple(int(v) for v in pb)))
        cut = None
        for _, pa, pb in sorted(candidates)[:8]:
            trial = work.copy()
            cv2.line(trial, pa, pb, 0, 2)
            # a plain labelling and a count: OpenCV's labelling with statistics costs several times more
            n, lab = cv2.connectedComponents(trial, connectivity=4)
            if n > 2 and (np.bincount(lab.ravel(), minlength=n)[1:] >= min_area).sum() >= 2 + len(contours) - 1:
                cut = trial
                break
        if cut is None:
            break   # no cut separates two pieces: what is left is whole
        work = cut
        cuts += 1
    if not cuts:
        return [blob]
    n, lab = cv2.connectedComponents(work, connectivity=4)
    area = np.bincount(lab.ravel(), minlength=n)
    parts = [(lab == k).astype(np.uint8) for k in range(1, n) if area[k] >= min_area]
    return parts or [blob]


def threshold_and_contours(img: np.ndarray, threshold: int = 40) -> list[tuple[int, int, int, int]]:
    """The plain baseline: Otsu-free fixed threshold on distance from the frame's median colour, contours.

    No background model, no shadows, no split; the bench compares the pipeline's speed with it.
    """
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    med = int(np.median(grey[::8, ::8]))
    fg = (cv2.absdiff(grey, np.full_like(grey, med)) > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(fg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) > 150]
