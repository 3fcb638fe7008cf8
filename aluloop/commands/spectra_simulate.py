"""``aluloop spectra simulate`` and ``aluloop spectra plot``: simulated LIBS spectra and their pictures.

Registered on the ``spectra`` command group (``aluloop/cli.py``).
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aluloop.errors import user_errors
from blending.errors import InputError

console = Console()


@user_errors(flags={"n_shots": "--shots"})
def simulate(
    grade: list[str] = typer.Option(..., "--grade", "-g", help="Grade or contaminant (repeat for several): "
                                    "5182, 6063, A356.2, brass, steel, ... (see `aluloop alloys list`)."),
    n: int = typer.Option(..., "--n", help="Spectra per grade."),
    instrument: str = typer.Option("broadband", "--instrument", "-i", help="Instrument profile: broadband, highres."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (created if missing)."),
    fmt: str = typer.Option("npz", "--format", "-f", help="npz (one batch file), csv or jcamp (one file each)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same spectra."),
    shots: int = typer.Option(None, "--shots", help="Shots averaged per spectrum; default: the shots per piece the "
                              "bundled model of the instrument was trained on (its card; 16), so that the spectra "
                              "are what the sorter reads. --shots 1 gives single shots."),
    cleaning_shots: int = typer.Option(0, "--cleaning-shots", help="Shots fired first and discarded."),
    surface: str = typer.Option("", "--surface", help="Surface layer on the pieces: lacquer, paint, oxide."),
    noise_scale: float = typer.Option(1.0, "--noise-scale", help="Detector noise multiplier (0 = noiseless)."),
    offset_nm: float = typer.Option(None, "--offset-nm", help="Wavelength offset of the instrument [nm]."),
    range_nm: tuple[float, float] = typer.Option(None, "--range-nm", help="Simulate only LOW HIGH nm."),
    pixels: int = typer.Option(None, "--pixels", help="Pixel count (default: the instrument's pitch)."),
    t_range: tuple[float, float] = typer.Option(None, "--t-range", help="Electron temperature LOW HIGH in K "
                                                "(default 8000 14000)."),
    ne_range: tuple[float, float] = typer.Option(None, "--ne-range", help="Electron density LOW HIGH in cm^-3 "
                                                 "(default 1e16 1e18)."),
) -> None:
    """Simulate LIBS spectra of catalogue grades or contaminants, with their true compositions."""
    from blending.errors import InputError
    from sorter.datasets import FORMATS, simulate_dataset
    from sorter.grades import resolve_grade
    from sorter.instruments import instrument_window
    from sorter.shots import ShotPlan
    from sorter.simulate import PlasmaRanges

    fmt = fmt.lower()
    if fmt not in FORMATS:   # before any simulation
        raise InputError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if n <= 0:
        raise InputError(f"--n: {n} spectra per grade; must be at least 1")
    names = [resolve_grade(g) for g in grade]
    try:
        inst = instrument_window(instrument, range_nm, pixels)
    except InputError as exc:   # the library names its fields; say them as this command's options
        flag = {"range_nm": "--range-nm", "n_pixels": "--pixels"}.get(exc.field or "")
        raise (InputError(exc.reason, field=flag) if flag else exc) from None
    if shots is None:
        from sorter.serving.registry import training_shots
        from sorter.shots import SHOTS_PER_PIECE

        base_profile = instrument.lower()
        shots = training_shots(inst.name) or training_shots(base_profile) or SHOTS_PER_PIECE
    plan = ShotPlan(n_shots=shots, cleaning_shots=cleaning_shots, surface=surface or None)
    defaults = PlasmaRanges()
    plasma = PlasmaRanges(T_e_K=t_range or defaults.T_e_K, n_e_per_cm3=ne_range or defaults.n_e_per_cm3)
    total = n * len(names) * plan.total_shots
    start = time.perf_counter()
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("shots", total=total)
        paths = simulate_dataset(names, n, inst, seed, out, fmt=fmt, shot_plan=plan, noise_scale=noise_scale,
                                 plasma=plasma,
                                 wavelength_offset_nm=offset_nm,
                                 progress=lambda done: bar.update(task, completed=done))
    elapsed = time.perf_counter() - start
    count = n * len(names)
    console.print(f"{count} spectra ({', '.join(names)}; {inst.name}, {inst.n_pixels} pixels, "
                  f"{shots} shot{'s' if shots != 1 else ''} each, seed {seed}) "
                  f"in {elapsed:.1f} s -> {out} ({len(paths)} file{'s' if len(paths) != 1 else ''}, {fmt})",
                  highlight=False, soft_wrap=True)


@user_errors
def plot(files: list[Path] = typer.Argument(..., help="Spectrum files (CSV, JCAMP-DX)."),
         out: Path = typer.Option(..., "--out", "-o", help="PNG file to write."),
         zoom: tuple[float, float] = typer.Option(None, "--zoom",
                                                  help="Extra panel overlaying all spectra, LOW HIGH nm."),
         xlim: tuple[float, float] = typer.Option(None, "--xlim", help="Wavelength range of the panels, LOW HIGH nm."),
         title: str = typer.Option("", "--title", help="Figure title.")) -> None:
    """Plot spectrum files, one panel each, with the main emission lines labelled."""
    from sorter.io import read_spectrum
    from sorter.spectrum_plot import plot_spectra

    for name, rng in (("--zoom", zoom), ("--xlim", xlim)):
        if rng is not None and not rng[1] > rng[0]:
            raise InputError(f"{name}: empty range {rng[0]:g}-{rng[1]:g} nm; give LOW HIGH with HIGH > LOW")
    spectra_ = [read_spectrum(p) for p in files]
    names = [spec.metadata.extra.get("grade", "") or p.stem for p, spec in zip(files, spectra_, strict=True)]
    names = [f"{nm} ({spec.metadata.instrument})" if spec.metadata.instrument else nm
             for nm, spec in zip(names, spectra_, strict=True)]
    path = plot_spectra(spectra_, names, out, zoom=zoom, xlim=xlim, title=title)
    console.print(f"wrote {path}", highlight=False, soft_wrap=True)
