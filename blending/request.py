"""What a furnace engineer asks for, validated once for every front end.

The CLI, the HTTP service and the report builder all build one of these requests and hand it
to :mod:`blending.plan`; each request checks everything a person can get wrong (ranges,
draws, choices, combinations) when it is made and raises :class:`~blending.errors.InputError`
naming the field, so no front end repeats a check or lets one slip.

Field names are the library's (``mass_kg``, ``joint_confidence``); a front end maps them to its
own (``--mass-kg``, a JSON member).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from blending.catalogue.composition import Composition
from blending.catalogue.spec import Spec, get_alloy
from blending.errors import InputError
from blending.joint import ALLOCATIONS
from blending.lot import Lot
from blending.melt import Melt, check_furnace_mass, default_recoveries
from blending.optimise import OBJECTIVES
from blending.recipe import DEFAULT_DRAWS

MIN_DRAWS = 1000
# What "95% confidence" means to a furnace engineer: the whole heat in spec, every limit together.
DEFAULT_JOINT_CONFIDENCE = 0.95
MAX_PARETO_POINTS = 1000


def check_probability(value: float | None, name: str) -> None:
    """A confidence must lie in [0.5, 1): 0.5 is the ordinary LP on mean chemistry, 1 needs infinite margins."""
    if value is not None and not (0.5 <= value < 1):
        raise InputError(f"{value:g} must be at least 0.5 and below 1 (0.5 is the ordinary LP on mean chemistry)",
                         field=name)


def joint_or_per_limit(joint_confidence: float | None, confidence: float | None) -> float | None:
    """The joint target [-]: as given, :data:`DEFAULT_JOINT_CONFIDENCE` when neither is given,
    None when only the per-limit ``confidence`` (the expert option) is given."""
    check_probability(confidence, "confidence")
    check_probability(joint_confidence, "joint_confidence")
    if joint_confidence is not None and confidence is not None:
        raise InputError("(each limit on its own) is an alternative to joint_confidence (the whole heat); "
                         "give one of them", field="confidence")
    if joint_confidence is None and confidence is None:
        return DEFAULT_JOINT_CONFIDENCE
    return joint_confidence


def confidence_text(joint_confidence: float | None, confidence: float | None) -> str:
    """How a recipe's target reads: "joint 0.95" or "0.99 per limit"."""
    return f"joint {joint_confidence:g}" if joint_confidence is not None else f"{confidence:g} per limit"


def check_draws(draws: int, name: str = "draws") -> None:
    if not isinstance(draws, int) or draws < MIN_DRAWS:
        raise InputError(f"{draws} is too few for a compliance estimate; give at least {MIN_DRAWS}", field=name)


def check_choice(value: str, choices: Sequence[str], name: str) -> None:
    if value not in choices:
        raise InputError(f"{value!r} is not one of {', '.join(choices)}", field=name)


def _positive(value: float, name: str, unit: str = "kg") -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(f"{value:g} {unit} must be positive", field=name)


def _spec(spec: Spec | str) -> Spec:
    """A catalogue name becomes its Spec (an unknown one is refused naming the field ``alloy``)."""
    return spec if isinstance(spec, Spec) else get_alloy(spec)


def aimed_spec(spec: Spec, aim_tighten: float | None,
               aim_limits: Mapping[str, tuple[float | None, float | None]] | None) -> Spec:
    """``spec`` with internal aim limits: tightened by a fraction of each range, or given, not both."""
    if aim_tighten is not None and aim_limits is not None:
        raise InputError("give at most one of aim_tighten and aim_limits", field="aim_tighten")
    if aim_tighten is not None:
        if not 0 <= aim_tighten < 0.5:
            raise InputError(f"{aim_tighten:g} must be in [0, 0.5)", field="aim_tighten")
        return spec.tightened(aim_tighten)
    if aim_limits is not None:
        return spec.with_aim(aim_limits)
    return spec


@dataclass(frozen=True)
class ChargeRequest:
    """One heat to charge.

    Parameters
    ----------
    spec : Spec or str
        Target alloy: a catalogue name (``"3104"``) or a custom `Spec`.
    mass_kg : float
        Liquid metal to produce, heel included [kg].
    lots : sequence of Lot
        The inventory: scrap lots, primary metal, hardeners.
    joint_confidence : float, optional
        Probability [-] that the whole heat is in spec, every limit together, in [0.5, 1);
        default 0.95 (:data:`DEFAULT_JOINT_CONFIDENCE`) unless ``confidence`` is given.
    confidence : float, optional
        Expert option: probability [-] each limit holds with on its own, instead of the joint
        figure; the heat as a whole is then in spec less often. Not with ``joint_confidence``.
    joint_allocation : {"bound", "calibrated"}
        How the joint risk is split between limits: a safe product/Boole bound, or calibrated on
        the joint probability itself (needs ``joint_confidence``).
    objective : {"recycled", "cost", "co2"}
        Most recycled metal (then least cost), least cost, or least CO2e.
    heel_kg, heel_composition
        Liquid heel left from the last heat [kg] and its chemistry [wt%].
    capacity_kg : float, optional
        Furnace capacity, heel plus charge [kg].
    min_recycled_fraction : float, optional
        Least recycled metal per kg of melt [-].
    max_cost : float, optional
        Most the charge may cost [USD per heat].
    aim_tighten : float, optional
        Aim inside the spec by this fraction of each range [-].
    aim_limits : mapping, optional
        Aim limits ``{element: (min, max)}`` [wt%] inside the spec.
    mass_tolerance_kg : float
        Allowed deviation from ``mass_kg`` (room for whole bales) [kg].
    recoveries : mapping, optional
        Element recovery [kg/kg]; default the catalogue's.
    draws, seed
        Monte Carlo draws and seed of the compliance check.
    """

    spec: Spec | str
    mass_kg: float
    lots: Sequence[Lot]
    confidence: float | None = None
    joint_confidence: float | None = None
    joint_allocation: str = "bound"
    objective: str = "recycled"
    heel_kg: float = 0.0
    heel_composition: Composition = field(default_factory=lambda: Composition({}))
    capacity_kg: float | None = None
    min_recycled_fraction: float | None = None
    max_cost: float | None = None
    aim_tighten: float | None = None
    aim_limits: Mapping[str, tuple[float | None, float | None]] | None = None
    mass_tolerance_kg: float = 0.0
    recoveries: Mapping[str, float] | None = None
    draws: int = DEFAULT_DRAWS
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", _spec(self.spec))
        object.__setattr__(self, "lots", tuple(self.lots))
        object.__setattr__(self, "joint_confidence", joint_or_per_limit(self.joint_confidence, self.confidence))
        check_choice(self.objective, OBJECTIVES, "objective")
        check_choice(self.joint_allocation, ALLOCATIONS, "joint_allocation")
        if self.joint_allocation == "calibrated" and self.joint_confidence is None:
            raise InputError("calibrated needs a joint confidence, not a per-limit one", field="joint_allocation")
        check_draws(self.draws)
        _positive(self.mass_kg, "mass_kg")
        if not self.lots:
            raise InputError("lists no materials", field="lots")
        if self.heel_composition and not self.heel_kg:
            raise InputError("given without heel_kg", field="heel_composition")
        if self.heel_kg and not self.heel_composition:
            # a heel of unknown chemistry would count as pure aluminium: a silent, optimistic guess
            raise InputError(f"is needed with a {self.heel_kg:g} kg heel: give its analysis (e.g. 'Mg=1.1,Mn=0.9'); "
                             "a heel of unknown chemistry would be taken as pure aluminium", field="heel_composition")
        if self.min_recycled_fraction is not None and not 0 <= self.min_recycled_fraction <= 1:
            raise InputError(f"{self.min_recycled_fraction:g} must be between 0 and 1", field="min_recycled_fraction")
        if self.max_cost is not None and not self.max_cost >= 0:
            raise InputError(f"{self.max_cost:g} USD must be at least 0", field="max_cost")
        # the melt and the aimed spec check their own fields; build them now so errors come at once
        self.melt()
        self.target()

    @property
    def confidence_text(self) -> str:
        return confidence_text(self.joint_confidence, self.confidence)

    def target(self) -> Spec:
        """The spec the charge is aimed at (the alloy's, with any aim limits)."""
        return aimed_spec(self.spec, self.aim_tighten, self.aim_limits)  # type: ignore[arg-type]

    def melt(self) -> Melt:
        """The heat's melt; `Melt` refuses its own bad fields with an `InputError`."""
        return Melt(mass_kg=self.mass_kg, heel_kg=self.heel_kg, heel_composition=self.heel_composition,
                    capacity_kg=self.capacity_kg,
                    recoveries=default_recoveries() if self.recoveries is None else self.recoveries,
                    mass_tolerance_kg=self.mass_tolerance_kg)


@dataclass(frozen=True)
class TrimRequest:
    """A measured melt to bring inside its aim limits with the additions on hand.

    ``capacity_kg`` defaults to the melt plus every addition on hand, which needs each
    addition's ``available_kg``. ``joint_confidence`` [-] is the probability that every limit
    holds together (default 0.95); ``confidence`` [-] the expert per-limit alternative.
    """

    spec: Spec | str
    melt_kg: float
    analysis: object                      # blending.trim.Analysis
    additions: Sequence[Lot]
    capacity_kg: float | None = None
    confidence: float | None = None
    aim_tighten: float | None = None
    recoveries: Mapping[str, float] | None = None
    draws: int = DEFAULT_DRAWS
    seed: int = 0
    joint_confidence: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", _spec(self.spec))
        object.__setattr__(self, "additions", tuple(self.additions))
        object.__setattr__(self, "joint_confidence", joint_or_per_limit(self.joint_confidence, self.confidence))
        check_draws(self.draws)
        _positive(self.melt_kg, "melt_kg")
        check_furnace_mass(self.melt_kg, "melt_kg")
        check_furnace_mass(self.capacity_kg, "capacity_kg")
        if not self.additions:
            raise InputError("lists no additions", field="additions")
        if self.capacity_kg is None:
            unlimited = [lot.name for lot in self.additions if lot.available_kg is None]
            if unlimited:
                raise InputError(f"is needed: {', '.join(unlimited)} has no available_kg, so the additions alone "
                                 "do not bound the furnace", field="capacity_kg")
        self.target()

    def target(self) -> Spec:
        return aimed_spec(self.spec, self.aim_tighten, None)  # type: ignore[arg-type]

    def capacity(self) -> float:
        if self.capacity_kg is not None:
            return self.capacity_kg
        return self.melt_kg + sum(lot.available_kg for lot in self.additions)  # type: ignore[misc]


@dataclass(frozen=True)
class ParetoRequest:
    """Fronts of recycled content against cost and against CO2e for one heat.

    Every point holds ``joint_confidence`` [-] (all limits together, default 0.95), or the
    expert per-limit ``confidence`` [-] when that is given instead.
    """

    spec: Spec | str
    mass_kg: float
    lots: Sequence[Lot]
    points: int = 50
    confidence: float | None = None
    capacity_kg: float | None = None
    joint_confidence: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", _spec(self.spec))
        object.__setattr__(self, "lots", tuple(self.lots))
        object.__setattr__(self, "joint_confidence", joint_or_per_limit(self.joint_confidence, self.confidence))
        if not isinstance(self.points, int) or not 2 <= self.points <= MAX_PARETO_POINTS:
            raise InputError(f"{self.points} must be between 2 and {MAX_PARETO_POINTS}", field="points")
        _positive(self.mass_kg, "mass_kg")
        if not self.lots:
            raise InputError("lists no materials", field="lots")
        self.melt()

    def melt(self) -> Melt:
        return Melt(mass_kg=self.mass_kg, capacity_kg=self.capacity_kg)


@dataclass(frozen=True)
class CampaignRequest:
    """A schedule of heats charged together from one shared inventory."""

    heats: Sequence[object]               # blending.campaign.Heat
    lots: Sequence[Lot]
    draws: int = DEFAULT_DRAWS
    seed: int = 0
    compare_greedy: bool = True
    time_limit_s: float = 45.0            # wall clock of a bale plan's search [s] (blending.campaign_bales)

    def __post_init__(self) -> None:
        if not (self.time_limit_s > 0 and math.isfinite(self.time_limit_s)):
            raise InputError(f"time limit {self.time_limit_s:g} s must be a positive number of seconds",
                             field="time_limit_s")
        object.__setattr__(self, "heats", tuple(self.heats))
        object.__setattr__(self, "lots", tuple(self.lots))
        check_draws(self.draws)
        if not self.heats:
            raise InputError("the schedule lists no heats", field="heats")
        if not self.lots:
            raise InputError("lists no materials", field="lots")
        for heat in self.heats:
            name = heat.name  # type: ignore[attr-defined]
            check_probability(heat.confidence, f"heats[{name}].confidence")  # type: ignore[attr-defined]
            check_probability(heat.joint_confidence, f"heats[{name}].joint_confidence")  # type: ignore[attr-defined]
            if heat.confidence is not None and heat.joint_confidence is not None:  # type: ignore[attr-defined]
                raise InputError(f"heat {name}: confidence (each limit on its own) is an alternative to "
                                 "joint_confidence (the whole heat); give one of them",
                                 field=f"heats[{name}].confidence")
