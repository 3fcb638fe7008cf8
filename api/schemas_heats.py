"""Request and response bodies of lots, inventory, recipes, heats and jobs (kept apart from api.schemas)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Cell = Annotated[str, Field(max_length=500)] | Number | None
Element = Annotated[str, Field(min_length=1, max_length=20)]
WtPct = Annotated[float, Field(strict=True, ge=0, le=100, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class LimitIn(BaseModel):
    """One composition limit [wt%], as a row of a limits CSV (``element`` may be ``Mn+Mg`` or ``others_each``)."""

    model_config = ConfigDict(extra="forbid")

    element: Element
    min_wt_pct: WtPct | None = None
    max_wt_pct: WtPct | None = None


class RecipeIn(BaseModel):
    """The options of ``aluloop blend``, over the stored inventory (closed lots included)."""

    model_config = ConfigDict(extra="forbid")

    alloy: Name | None = Field(None, description="target alloy from the catalogue, e.g. 3104")
    limits: list[LimitIn] | None = Field(None, min_length=1, max_length=100,
                                         description="custom limits instead of alloy")
    mass_kg: Number = Field(gt=0, le=1e7, description="liquid metal to produce, heel included [kg]")
    confidence: Number | None = Field(None, description="probability that the whole heat is in spec [-]")
    per_limit_confidence: Number | None = Field(None, description="expert: probability per limit [-]")
    joint_allocation: Literal["bound", "calibrated"] = "bound"
    objective: Literal["recycled", "cost", "co2"] = "recycled"
    heel_kg: Number = Field(0.0, ge=0, le=1e7, description="liquid heel [kg]")
    heel_composition_wt_pct: dict[Element, WtPct] = Field(default_factory=dict, max_length=100)
    capacity_kg: Number | None = Field(None, gt=0, le=1e7, description="furnace capacity [kg]")
    min_recycled: Number | None = Field(None, ge=0, le=1, description="least recycled metal per kg of melt [-]")
    max_cost: Number | None = Field(None, ge=0, description="most the charge may cost [USD per heat]")
    aim_tighten: Number | None = Field(None, description="aim inside the spec by this fraction of each range [-]")
    aim_limits: list[LimitIn] | None = Field(None, min_length=1, max_length=100)
    mass_tolerance_kg: Number = Field(0.0, ge=0, le=1e7, description="allowed deviation from mass_kg [kg]")
    recoveries: dict[Element, Number] | None = Field(None, max_length=100, description="element recovery [kg/kg]")
    seed: int = Field(0, ge=0, le=2**32 - 1, strict=True)
    draws: int = Field(20_000, ge=1, le=1_000_000, strict=True)


class InventoryItemOut(BaseModel):
    id: str
    material: str
    available_kg: float | None = Field(description="stock left [kg]; null: bought to order")
    lot_id: str | None
    row: dict[str, str] = Field(description="the inventory CSV cells of the item")
    created_at: AwareDatetime


class InventoryPage(BaseModel):
    items: list[InventoryItemOut]


class LotOut(BaseModel):
    id: str
    line_id: str
    bin: str
    status: Literal["open", "closed"]
    opened_at: AwareDatetime
    closed_at: AwareDatetime | None
    close_rule: str | None
    piece_count: int
    mass_kg: float
    chemistry: dict | None = Field(description="when closed: mass, grade mix, unknown rate, mean [wt%] and "
                                               "sd of the mean [wt%], and the inventory row")
    inventory_item_id: str | None


class LotPage(BaseModel):
    items: list[LotOut]


class HeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipe_id: Annotated[str, Field(pattern=r"^[0-9]{1,18}$")]
    name: Name | None = None
    furnace: Name | None = Field(None, description="the furnace it melts in, a row of "
                                 "blending/data/emission_factors_melting.csv (its melting energy goes into the "
                                 "report's footprint); default: gas reverberatory")


class AnalysisIn(BaseModel):
    """An OES analysis of the melt: readings [wt%] and, optionally, their sd [wt%] (default: OES repeatability)."""

    model_config = ConfigDict(extra="forbid")

    composition_wt_pct: dict[Element, WtPct] = Field(min_length=1, max_length=100)
    sd_wt_pct: dict[Element, WtPct] = Field(default_factory=dict, max_length=100)


class TrimIn(BaseModel):
    """A trim of the heat's melt with the inventory on hand; defaults from the heat's recipe."""

    model_config = ConfigDict(extra="forbid")

    analysis_id: Annotated[str, Field(pattern=r"^[0-9]{1,18}$")] | None = Field(
        None, description="the analysis to trim on; default the heat's latest")
    melt_kg: Number | None = Field(None, gt=0, le=1e7, description="melt in the furnace [kg]; default the "
                                                                    "recipe's liquid metal")
    capacity_kg: Number | None = Field(None, gt=0, le=1e7, description="furnace capacity [kg]")
    confidence: Number | None = None
    aim_tighten: Number | None = None
    seed: int = Field(0, ge=0, le=2**32 - 1, strict=True)
    draws: int = Field(20_000, ge=1, le=1_000_000, strict=True)


class AnalysisOut(BaseModel):
    id: str
    composition_wt_pct: dict[str, float]
    sd_wt_pct: dict[str, float]
    created_at: AwareDatetime


class TrimOut(BaseModel):
    id: str
    analysis_id: str
    result: dict = Field(description="blending Trim.to_json()")
    created_at: AwareDatetime
    applied_at: AwareDatetime | None = Field(None, description="when its additions were taken off the stock")


class EventOut(BaseModel):
    at: AwareDatetime
    key_id: str | None = Field(description="the key that made the change")
    action: str
    detail: dict


class HeatOut(BaseModel):
    id: str
    recipe_id: str
    name: str
    status: Literal["charged", "closed"]
    furnace: str | None = Field(None, description="the furnace it melts in; None: the report's default")
    charge: list[dict]
    created_at: AwareDatetime
    closed_at: AwareDatetime | None
    analyses: list[AnalysisOut]
    trims: list[TrimOut]
    events: list[EventOut] = Field(description="every change of the heat: who (key id), when, what")


class HeatPage(BaseModel):
    items: list[HeatOut]


class CampaignIn(BaseModel):
    """Heats charged together from the stored inventory (``aluloop plan``), as a job."""

    model_config = ConfigDict(extra="forbid")

    class HeatItem(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: Name
        alloy: Name
        mass_kg: Number = Field(gt=0, le=1e7)
        confidence: Number | None = Field(None, description="probability that the whole heat is in spec [-]; "
                                          "default 0.95 (as aluloop plan)")
        per_limit_confidence: Number | None = Field(None, description="expert: probability per limit [-], "
                                                    "instead of confidence")

    heats: list[HeatItem] = Field(min_length=1, max_length=50)
    compare_greedy: bool = True
    seed: int = Field(0, ge=0, le=2**32 - 1, strict=True)
    draws: int = Field(2_000, ge=1, le=100_000, strict=True)


class JobOut(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    result: dict | None
    error: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime
