"""The family head's say in a decision: the family it reads from thin-line ratios, and when it abstains.

A model whose graph has the outputs ``family_probabilities`` and ``family_distance`` and whose card
has a ``family_head`` section (``sorter/training/family_head.py``) carries a second, small family
classifier trained over a wide randomisation of plasmas and spectrometers. The grade classifier
knows our simulator and the training spectrometer in detail and is the better judge on them; the
family head is the one that still holds on another plasma model and instrument. So, for a spectrum
from another spectrometer (the runtime's test: it names another instrument, or is not on the model's
grid; on its own spectrometer the grade classifier keeps the family):

* the family served is the family head's, and the grade is the most probable grade inside it (a
  grade always belongs to its family);
* a piece is accepted only if the grade classifier accepted it, the family head's probability
  reaches ``min_probability``, its features lie within ``max_distance`` of a family it was trained
  on, and both heads name the same family; otherwise it goes round again (``unknown``) with the
  reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sorter.serving.reject import UNKNOWN, Decision


@dataclass(frozen=True)
class FamilyHeadCard:
    """The card's ``family_head`` section: the head's families and its two accept bars."""

    families: tuple[str, ...]
    min_probability: float
    max_distance: float

    @classmethod
    def from_card(cls, section: dict) -> FamilyHeadCard | None:
        if not section:
            return None
        return cls(tuple(section["families"]), float(section["min_probability"]), float(section["max_distance"]))


def with_family_head(decisions: list[Decision], probabilities: np.ndarray, family_probabilities: np.ndarray,
                     family_distance: np.ndarray, classes: list[str], families: dict[str, str],
                     head: FamilyHeadCard) -> list[Decision]:
    """``decisions`` of the grade classifier with the family head's family, grade inside it, and abstention.

    Parameters
    ----------
    probabilities : ndarray, shape (n, C)
        Grade probabilities of the grade classifier [-].
    family_probabilities : ndarray, shape (n, F)
        The family head's probabilities over ``head.families`` [-].
    family_distance : ndarray, shape (n,) or (n, 1)
        Distance of the family features to the nearest family (RMS per feature) [-].
    """
    fam_of_class = np.array([families[c] for c in classes])
    head_fams = np.array(head.families)
    pick = family_probabilities.argmax(axis=1)
    top = family_probabilities[np.arange(pick.size), pick]
    dist = np.asarray(family_distance, dtype=np.float64).reshape(-1)
    out = []
    for i, d in enumerate(decisions):
        fam = str(head_fams[pick[i]])
        inside = fam_of_class == fam
        if not np.isfinite(top[i]) or not inside.any():
            out.append(d)
            continue
        j = int(np.flatnonzero(inside)[np.argmax(probabilities[i, inside])])
        decision, reason = d.decision, d.reason
        if decision != UNKNOWN:
            if dist[i] > head.max_distance:
                decision, reason = UNKNOWN, (f"family features out of distribution: distance {dist[i]:.2f} "
                                             f"> {head.max_distance:.2f}")
            elif top[i] < head.min_probability:
                decision, reason = UNKNOWN, (f"family uncertain: family head {fam} p={top[i]:.3f} "
                                             f"< {head.min_probability:.3f}")
            elif fam != d.family:
                decision, reason = UNKNOWN, (f"grade classifier ({d.grade}, {d.family}) and family head ({fam}, "
                                             f"p={top[i]:.3f}) disagree")
        out.append(Decision(classes[j], fam, float(probabilities[i, j]), decision, reason))
    return out
