"""Per-line sort rules: which grades, families and decisions go to which bin.

Rules are configuration an admin sets per line (``PUT /v1/lines/{line_id}/rules``), stored in
the database, never code. A piece goes to, in this order: ``invalid_bin`` when its spectrum could
not be classified; ``late_bin`` when it arrived after the line's deadline (the ejector has passed);
``unknown_bin`` when the sorter recirculates it; the first bin whose grades or families contain it
and whose ``min_probability`` its top probability reaches; else ``default_bin`` (when not set: the
piece's family, so a line without rules still sorts by family).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.services.ejection import Ejection


class BinRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bin: str = Field(min_length=1, max_length=100, description="bin (ejector) name")
    grades: list[str] = Field(default_factory=list, description="grades that go to this bin")
    families: list[str] = Field(default_factory=list, description="families that go to this bin")
    min_probability: float = Field(0.0, ge=0.0, le=1.0, strict=True,
                                   description="least top probability for this bin [-]")


class SortRules(BaseModel):
    """The sort rules of one line."""

    model_config = ConfigDict(extra="forbid")

    bins: list[BinRule] = Field(default_factory=list, max_length=200)
    default_bin: str | None = Field(None, max_length=100, description="when no bin matches; None: the family")
    unknown_bin: str = Field("recirculate", min_length=1, max_length=100)
    late_bin: str = Field("recirculate", min_length=1, max_length=100)
    invalid_bin: str = Field("recirculate", min_length=1, max_length=100)
    late_after_ms: float | None = Field(None, gt=0, strict=True,
                                        description="a piece captured longer ago than this is late [ms]; None: never")
    # lots (api/services/lots.py): pieces of a bin gather into its open lot until a close rule is met
    lot_close_pieces: int | None = Field(None, ge=1, le=10_000_000, strict=True,
                                         description="close a lot when it holds this many pieces; None: never")
    lot_close_mass_kg: float | None = Field(None, gt=0, le=1e7, strict=True,
                                            description="close a lot when it holds this mass [kg]; None: never")
    piece_mass_kg: float | None = Field(None, gt=0, le=10_000, strict=True,
                                        description="mass of a piece sent without mass_kg [kg]; None: such pieces "
                                                    "join no lot")
    no_lot_bins: list[str] = Field(default_factory=lambda: ["recirculate"], max_length=200,
                                   description="bins whose pieces gather into no lot")
    lot_material: str = Field("old mixed sheet", min_length=1, max_length=200,
                              description="catalogue material whose recycled class, metal yield, price and CO2e "
                                          "a closed lot of this line takes in the inventory")
    ejection: Ejection | None = Field(None, description="encoder geometry for fire counts and the late check; "
                                      "None: no fire counts")


def bin_for(rules: SortRules, *, state: str, decision: str, grade: str | None, family: str | None,
            top_probability: float) -> str:
    """The bin of one piece under ``rules`` (see the module docstring for the order)."""
    if state == "invalid":
        return rules.invalid_bin
    if state == "late":
        return rules.late_bin
    if decision != "accept":
        return rules.unknown_bin
    for rule in rules.bins:
        if (grade in rule.grades or family in rule.families) and top_probability >= rule.min_probability:
            return rule.bin
    return rules.default_bin or family or rules.unknown_bin
