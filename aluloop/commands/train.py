"""``aluloop train libs``: fit a LIBS piece classifier and export it to ONNX with its model card."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aluloop.errors import user_errors
from blending.errors import InputError

app = typer.Typer(help="Train models.", no_args_is_help=True)
console = Console()


@app.command("libs")
@user_errors
def train_libs(
    data: str = typer.Option(..., "--data", help="simulated:INSTRUMENT (e.g. simulated:broadband), a .npz batch, "
                             "a folder of .npz batches, or a folder of CSV/JCAMP-DX spectra with labels.csv."),
    out: Path = typer.Option(..., "--out", help="Model file to write, e.g. models/broadband.onnx; the card "
                             "(NAME.card.json) and report (NAME.report/) go beside it."),
    seed: int = typer.Option(0, "--seed", help="Seed for simulation, the held-out split and the ensemble's MLPs "
                             "(seed, seed+1, ...)."),
    n_per_grade: int = typer.Option(600, "--n-per-grade", min=5,
                                    help="Simulated spectra per grade (simulated:... data only)."),
    max_iter: int = typer.Option(300, "--max-iter", min=10, help="MLP training epochs."),
    members: int = typer.Option(5, "--members", min=1, help="MLPs in the grade classifier's ensemble (seeds seed, "
                                "seed+1, ...); each costs inference time and steadies the accuracy at the "
                                "plasma edges."),
    plasma_terms: bool = typer.Option(False, "--plasma-terms", help="Estimate each spectrum's plasma state and "
                                      "give the composition estimate the Saha-Boltzmann terms at it (needs "
                                      "simulated data, which carries the plasma state)."),
    max_shift_nm: float = typer.Option(0.0, "--max-shift-nm", min=0.0, help="Correct each spectrum's wavelength "
                                       "offset, up to this many nm, from the centroids of its aluminium lines "
                                       "before the line areas are read (0: off)."),
    augment: int = typer.Option(0, "--augment", min=0, help="Also learn from this many noisy, wavelength-shifted "
                                "copies of each training spectrum, so that a plant's few hundred spectra per grade "
                                "span more of the noise and wavelength offsets it will meet. 0: off."),
    state_reference: str = typer.Option("auto", "--state-reference", help="Data without plasma states (a plant's "
                                        "spectra): simulate reference spectra on this shipped instrument profile to "
                                        "learn where each spectrum's plasma state lies, which places the "
                                        "composition's plasma-state experts. auto: the profile spanning the line "
                                        "windows on the data's grid; none: the indicator features' principal "
                                        "components instead."),
    classifier: str = typer.Option("auto", "--classifier", help="Grade classifier: mlp (the project's MLP "
                                   "ensemble), logistic, hgb (gradient boosting), or auto: on data without plasma "
                                   "states (a plant's spectra) the family, composition guide and wavelength-drift "
                                   "correction with the best cross-validated accuracy, folds grouped by piece (every "
                                   "candidate's score goes in the report and card); simulated data keep mlp."),
    guided: bool = typer.Option(False, "--guided", help="With an explicit --classifier: also give it ridge "
                                "estimates of each element's log wt% from the line features (needs compositions)."),
    wavelength_column: str = typer.Option(None, "--wavelength-column", help="Header name (or 1-based number) of "
                                          "the wavelength column of multi-column text spectra in a labelled "
                                          "folder; default: by name."),
    intensity_column: str = typer.Option(None, "--intensity-column", help="Header name (or 1-based number) of "
                                         "the intensity column of multi-column text spectra in a labelled "
                                         "folder; default: a dark-subtracted column, else "
                                         "intensity/counts/spectrum/sample."),
) -> None:
    """Train the grade classifier, composition estimate and reject option; export ONNX + model card."""
    from sorter.training.augment import Augmentation
    from sorter.training.data import load_training_data
    from sorter.training.state_reference import check_choice
    from sorter.training.train import train

    check_choice(state_reference)            # before minutes of simulation or reading

    reproduce = f"aluloop train libs --data {data} --out {out} --seed {seed}"
    if data.startswith("simulated:"):
        reproduce += f" --n-per-grade {n_per_grade}"
    if max_iter != 300:
        reproduce += f" --max-iter {max_iter}"
    if members != 5:
        reproduce += f" --members {members}"
    if plasma_terms:
        reproduce += " --plasma-terms"
    if max_shift_nm:
        reproduce += f" --max-shift-nm {max_shift_nm:g}"
    if augment:
        reproduce += f" --augment {augment}"
    if classifier != "auto":
        reproduce += f" --classifier {classifier}"
    if guided:
        reproduce += " --guided"
    if state_reference != "auto":
        reproduce += f" --state-reference {state_reference}"
    for option, column in (("--wavelength-column", wavelength_column), ("--intensity-column", intensity_column)):
        if column is not None:
            reproduce += f" {option} {shlex.quote(column)}"
    with Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(desc: str, done: int, total: int) -> None:
            key = desc.split(":")[0]
            if key not in tasks:
                tasks[key] = bar.add_task(desc, total=total)
            bar.update(tasks[key], completed=done, total=total, description=desc)

        training_data = load_training_data(data, seed=seed, n_per_grade=n_per_grade, progress=progress,
                                           wavelength_column=wavelength_column, intensity_column=intensity_column)
        if plasma_terms and training_data.plasma_state is None:
            raise InputError(f"--plasma-terms: the data {data} carry no plasma state (only simulated data do)")
        result = train(training_data, out, seed=seed, max_iter=max_iter, reproduce=reproduce, progress=progress,
                       plasma_terms=plasma_terms, n_members=members, max_shift_nm=max_shift_nm,
                       augmentation=Augmentation(copies=augment) if augment else None,
                       state_reference=state_reference, classifier=classifier, guided=guided)
    m = result.metrics
    console.print(f"wrote {result.model_path} ({result.model_path.stat().st_size / 1e6:.2f} MB), "
                  f"{result.card_path}, report in {result.report_dir}/", highlight=False)
    line = (f"held-out: grade accuracy {m['grade_accuracy']:.4f}, family accuracy {m['family_accuracy']:.4f}, "
            f"unknown {m['unknown_rate']:.4f}, contaminants accepted as Al {m['contaminants_accepted_as_aluminium']}")
    if "composition" in m:
        line += (f", worst composition MAE {m['composition']['worst_share_of_range']:.3f} of spec range "
                 f"({m['composition']['worst']})")
    console.print(line, highlight=False)
    if "model_selection" in m:
        for c in m["model_selection"]["candidates"]:
            console.print(f"  cross-validated grade accuracy {c['cv_accuracy']:.4f} +- {c['cv_accuracy_sd']:.4f}: "
                          f"{c['name']}" + ("  <- chosen" if c["name"] == m["model_selection"]["chosen"] else ""),
                          highlight=False)


@app.command("family-head")
@user_errors
def train_family_head_command(
    model: Path = typer.Option(..., "--model", help="ONNX model with its card beside it, e.g. models/highres.onnx; "
                               "the family head is written into both (a head there already is replaced)."),
    n_per_grade: int = typer.Option(240, "--n-per-grade", min=10, help="Simulated single shots per grade."),
    chunks: int = typer.Option(48, "--chunks", min=2, help="Random spectrometers and plasma ranges they are "
                               "spread over."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulation (validation: seed + 1000)."),
    cache: Path = typer.Option(None, "--cache", help="Folder that keeps the simulated spectra, so that a rerun "
                               "skips the simulation."),
) -> None:
    """Give a model a family head that carries to other plasmas and spectrometers (thin-line ratios, abstention)."""
    from sorter.training.family_head import train_family_head

    if not model.exists():
        raise InputError(f"--model: {model} does not exist", field="model")
    section = train_family_head(model, n_per_grade=n_per_grade, chunks=chunks, seed=seed, cache=cache)
    v = section["validation"]
    console.print(f"wrote the family head into {model} and its card: bars p >= {section['min_probability']:.3f}, "
                  f"distance <= {section['max_distance']:.2f}; randomised validation: family accuracy "
                  f"{v['family_accuracy']:.4f}, wrong family accepted {v['wrong_family_accepted']:.4f}, unknown "
                  f"{v['unknown']:.4f}", highlight=False)
