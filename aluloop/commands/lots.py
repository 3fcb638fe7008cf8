"""``aluloop lots``: classified pieces into lots with a mean chemistry and the sd of that mean.

``aluloop lots build --records pieces.jsonl --out lots.csv`` reads the JSON lines that
``aluloop classify --json`` prints, each with ``mass_kg`` added (and optionally ``bin``), and
writes one inventory row per lot: per bin when the records carry one, else per predicted grade
with the pieces the sorter could not read in a lot of their own. ``aluloop blend --inventory``
reads the result (docs/lots.md).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from aluloop.errors import user_errors
from aluloop.output import stdout_console, table
from blending.errors import InputError
from blending.lot_chemistry import LotChemistry, PieceChemistry, ShareBias, lot_chemistry

lots = typer.Typer(help="Lots of sorted pieces: mean chemistry and its uncertainty, as inventory rows.",
                   no_args_is_help=True)

# the two-sided 90% interval that `aluloop classify` prints is mean -/+ this many sd
Z_90 = 1.6448536269514722
UNKNOWN_LOT = "unknown"
SUMMARY_ELEMENTS = ("Si", "Fe", "Cu", "Mn", "Mg", "Zn")


def error_figures(model: str | None) -> dict:
    """The composition error tables (``ModelCard.lot_error``) of a bundled model or ``.onnx`` path; with
    no model, the bundled cards together, safely: per grade and element the largest random sd and the
    largest ``sqrt(shared_sd^2 + bias^2)`` over the cards, and no bias correction (the bias of a
    model the records do not name cannot be subtracted)."""
    from sorter.serving import Sorter
    from sorter.serving.card import ModelCard, card_path_for

    if model is not None and (model.endswith(".onnx") or Path(model).suffix == ".onnx"):
        return ModelCard.read(card_path_for(model)).lot_error()
    cards = Sorter().cards
    if model is not None:
        if model not in cards:
            raise InputError(f"no bundled model {model!r} (bundled: {', '.join(cards)})", field="model")
        return cards[model][1].lot_error()
    merged: dict = {"sd_wt_pct": {}, "bias_wt_pct": {}, "unknown_sd_wt_pct": {}, "random_sd_wt_pct": {},
                    "unknown_wt_pct": {}}
    for _, card in cards.values():
        fig = card.lot_error()
        for grade, by_el in fig["sd_wt_pct"].items():
            for el, sd in by_el.items():
                safe = math.hypot(sd, fig["bias_wt_pct"].get(grade, {}).get(el, 0.0))
                slot = merged["sd_wt_pct"].setdefault(grade, {})
                slot[el] = max(slot.get(el, 0.0), safe)
        for grade, by_el in fig["random_sd_wt_pct"].items():
            slot = merged["random_sd_wt_pct"].setdefault(grade, {})
            for el, sd in by_el.items():
                slot[el] = max(slot.get(el, 0.0), sd)
        for el, sd in fig["unknown_sd_wt_pct"].items():
            merged["unknown_sd_wt_pct"][el] = max(merged["unknown_sd_wt_pct"].get(el, 0.0), sd)
        for el, mean in fig["unknown_wt_pct"].items():
            merged["unknown_wt_pct"].setdefault(el, mean)
    return merged


def _number(value, where: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where}: {field} is {json.dumps(value)}; must be a number", field=field)
    return float(value)


def read_records(path: Path, bin_field: str) -> list[tuple[str | None, dict]]:
    """(bin or None, record) for every non-blank line of ``path``, each checked: a JSON object with a
    positive ``mass_kg``, a ``grade`` (string or null) and ``composition_wt_pct`` (an object of numbers
    or nulls). Errors name the file, line and field."""
    out = []
    name = path.name
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{name} line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})",
                                 field="records") from None
            if not isinstance(record, dict):
                raise InputError(f"{where}: a record must be a JSON object as `aluloop classify --json` prints",
                                 field="records")
            if "mass_kg" not in record:
                raise InputError(f"{where}: no mass_kg; add each piece's mass in kg to its record", field="mass_kg")
            mass = _number(record["mass_kg"], where, "mass_kg")
            if mass <= 0:
                raise InputError(f"{where}: mass_kg is {mass:g}; a piece must weigh more than 0 kg", field="mass_kg")
            grade = record.get("grade")
            if grade is not None and not isinstance(grade, str):
                raise InputError(f"{where}: grade is {json.dumps(grade)}; must be a grade name or null", field="grade")
            comp = record.get("composition_wt_pct", {})
            if comp is None:
                comp = {}
            if not isinstance(comp, dict):
                raise InputError(f"{where}: composition_wt_pct must be an object of element: wt%",
                                 field="composition_wt_pct")
            for el, v in comp.items():
                if v is not None:
                    value = _number(v, where, f"composition_wt_pct.{el}")
                    if not 0 <= value <= 100:
                        raise InputError(f"{where}: composition_wt_pct.{el} is {value:g} wt%; must be between 0 "
                                         "and 100", field=f"composition_wt_pct.{el}")
            interval = record.get("composition_interval_wt_pct") or {}
            if not isinstance(interval, dict):
                raise InputError(f"{where}: composition_interval_wt_pct must be an object of element: [lo, hi]",
                                 field="composition_interval_wt_pct")
            bin_value = record.get(bin_field)
            if bin_value is not None and not isinstance(bin_value, str | int):
                raise InputError(f"{where}: {bin_field} is {json.dumps(bin_value)}; must be a name or a number",
                                 field=bin_field)
            record["_where"] = where
            out.append((None if bin_value is None else str(bin_value), record))
    if not out:
        raise InputError(f"{name}: no records; one JSON object per line, as `aluloop classify --json` prints",
                         field="records")
    binned = [b is not None for b, _ in out]
    if any(binned) and not all(binned):
        first = next(r["_where"] for b, r in out if b is None)
        raise InputError(f"{first}: no {bin_field} while other records carry one; give every piece its bin, "
                         f"or none (lots by grade)", field=bin_field)
    return out


def piece_from_record(record: dict, figures: dict) -> PieceChemistry:
    """A record as the lot statistics take it: unknown (grade None) unless the sorter accepted the piece;
    the random sd from the card for the grade, else from the record's 90% interval."""
    grade = record.get("grade") or None
    if record.get("decision", "accept") != "accept":
        grade = None
    comp = {el: float(v) for el, v in (record.get("composition_wt_pct") or {}).items() if v is not None}
    card_sd = figures["random_sd_wt_pct"].get(grade, {}) if grade is not None else {}
    sd = {}
    for el in comp:
        if el in card_sd:
            sd[el] = card_sd[el]
            continue
        iv = (record.get("composition_interval_wt_pct") or {}).get(el)
        if isinstance(iv, list | tuple) and len(iv) == 2 and all(isinstance(x, int | float) for x in iv):
            sd[el] = max(0.0, (float(iv[1]) - float(iv[0])) / (2 * Z_90))
    return PieceChemistry(float(record["mass_kg"]), grade, comp, sd)


def build_lots(records: list[tuple[str | None, dict]], figures: dict, *, prefix: str, recycled: str,
               metal_yield: float | None, cost_per_kg: float | None, co2e_kg_per_kg: float | None,
               progress=None) -> list[LotChemistry]:
    """One lot per bin, or (no bins) per accepted grade with unknown pieces in a lot of their own."""
    from sorter.serving.families import is_aluminium

    groups: dict[str, list[PieceChemistry]] = {}
    by_bin = records[0][0] is not None
    for bin_value, record in records:
        piece = piece_from_record(record, figures)
        key = f"bin {bin_value}" if by_bin else (piece.grade or UNKNOWN_LOT)
        groups.setdefault(key, []).append(piece)
        if progress is not None:
            progress()
    shared = ShareBias(figures["sd_wt_pct"], bias_wt_pct=figures["bias_wt_pct"],
                       unknown_sd_wt_pct=figures["unknown_sd_wt_pct"])
    prior = figures["unknown_wt_pct"] or None
    out = []
    for key in sorted(groups, key=lambda k: (k == UNKNOWN_LOT, k)):
        name = f"{prefix} {key}".strip()
        # a lot mostly of pieces read as brass, copper, steel...: not for an aluminium heat
        non_al = sum(p.mass_kg for p in groups[key] if p.grade is not None and not is_aluminium(p.grade))
        charge_ok = non_al <= 0.5 * sum(p.mass_kg for p in groups[key])
        out.append(lot_chemistry(groups[key], shared, name=name, unknown_wt_pct=prior, recycled=recycled,
                                 metal_yield=metal_yield, cost_per_kg=cost_per_kg, co2e_kg_per_kg=co2e_kg_per_kg,
                                 charge_ok=charge_ok))
    return out


def write_lots_csv(lots_: list[LotChemistry], path: Path) -> None:
    """The lots as inventory rows (the columns ``aluloop blend --inventory`` reads)."""
    rows = [lot.inventory_row() for lot in lots_]
    columns = list(dict.fromkeys(c for row in rows for c in row if not c.startswith("sd_")))
    columns += list(dict.fromkeys(c for row in rows for c in row if c.startswith("sd_")))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


@lots.command("build")
@user_errors
def build(
    records: Path = typer.Option(..., "--records", help="JSON lines of classified pieces (`aluloop classify --json`), "
                                 "each with mass_kg added and optionally a bin."),
    out: Path = typer.Option(..., "--out", help="Inventory CSV to write (one row per lot)."),
    model: str = typer.Option(None, "--model", help="Bundled model name or .onnx path that classified the pieces; "
                              "its card gives the error figures. Default: the records' model field, else every "
                              "bundled card together (the larger figure of each, no bias correction)."),
    bin_field: str = typer.Option("bin", "--bin-field", help="Record field naming the piece's bin; records with it "
                                  "make one lot per bin, records without it one per grade."),
    prefix: str = typer.Option("sorted", "--prefix", help="Lot names start with this ('sorted 3104', "
                               "'sorted bin 4')."),
    priced_like: str = typer.Option("old mixed sheet", "--priced-like", help="Catalogue material whose yield, price "
                                    "and CO2e the lots take (`aluloop materials list`)."),
    recycled: str = typer.Option("post_consumer", "--recycled", help="ISO 14021 category of the lots: "
                                 "post_consumer or pre_consumer."),
) -> None:
    """Build lots from classified pieces: mean chemistry and the sd of that mean, as inventory rows."""
    from blending.catalogue.materials import RecycledCategory, get_material

    try:
        category = RecycledCategory(recycled.strip().lower().replace("-", "_"))
    except ValueError:
        raise InputError(f"{recycled!r} is not one of {', '.join(c.value for c in RecycledCategory)}",
                         field="recycled") from None
    like = get_material(priced_like)
    if not records.is_file():
        raise InputError(f"{records}: no such file", field="records")
    found = read_records(records, bin_field)
    models = {r.get("model") for _, r in found if isinstance(r.get("model"), str)}
    if model is None and len(models) == 1:
        model = models.pop()
    figures = error_figures(model)
    with Progress(TextColumn("building lots"), BarColumn(), MofNCompleteColumn(), transient=True) as bar:
        task = bar.add_task("pieces", total=len(found))
        built = build_lots(found, figures, prefix=prefix, recycled=category.value, metal_yield=like.metal_yield,
                           cost_per_kg=like.cost_per_kg, co2e_kg_per_kg=like.co2e_kg_per_kg,
                           progress=lambda: bar.advance(task))
    write_lots_csv(built, out)
    console = stdout_console()
    shown = [e for e in SUMMARY_ELEMENTS if any(e in lot.mean_wt_pct for lot in built)]
    rows = table(f"{len(built)} lots from {len(found)} pieces -> {out}",
                 ["lot", "pieces", "kg", "unknown", *[f"{e} wt% (sd of mean)" for e in shown]])
    for lot in built:
        rows.add_row(lot.name, f"{lot.piece_count:,}", f"{lot.mass_kg:,.1f}", f"{lot.unknown_rate:.1%}",
                     *[f"{lot.mean_wt_pct[e]:.3f} ({lot.sd_of_mean_wt_pct[e]:.3f})" if e in lot.mean_wt_pct else "-"
                       for e in shown])
    console.print(rows)
    console.print(f"priced like {like.name!r}; model error figures from "
                  f"{model if model else 'every bundled card (largest of each)'}", soft_wrap=True)


# ``aluloop lots export``: the service's closed lots (aluloop/commands/lots_export.py)
from aluloop.commands import lots_export  # noqa: E402

lots.command("export")(lots_export.export)
