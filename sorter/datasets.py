"""Seeded simulated data sets on disk: a batch ``.npz`` or one CSV / JCAMP-DX file per spectrum.

Every data set is reproducible from (grades, n, instrument, seed, options). Files per spectrum
come with ``manifest.csv``: file, grade, instrument, seed, index, drawn plasma state and the true
composition (wt%, one column per element, Al explicit).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

from blending.errors import InputError
from sorter.batch import SpectrumBatch
from sorter.instruments import Instrument, get_instrument
from sorter.spectrum import Metadata, Spectrum

FORMATS = ("npz", "csv", "jcamp")
EXTENSION = {"csv": ".csv", "jcamp": ".jdx"}
MANIFEST_META = ("T_e_K", "n_e_per_cm3", "ablation_scale", "offset_nm", "surface_fraction", "missed_shots")


# Memory a simulation holds at its peak, measured with /usr/bin/time on the broadband profile
# (4096 pixels): about 150 MB of code and tables; the synthesis of one chunk of up to 512 shots
# (about 10 copies of those spectra); the result, about 1.4 copies of the output spectra (float64);
# and a few kB of drawn conditions per shot. The estimate below rounds each up.
BASE_BYTES = 200e6
CHUNK_SHOTS, CHUNK_COPIES = 512, 10
OUTPUT_COPIES = 2
BYTES_PER_SHOT = 4096


def simulation_bytes(n_spectra: int, n_pixels: int, shots_per_spectrum: int = 1) -> float:
    """Peak memory a simulation of ``n_spectra`` spectra of ``n_pixels`` needs, rounded up [bytes]."""
    shots = n_spectra * shots_per_spectrum
    return (BASE_BYTES + CHUNK_COPIES * min(shots, CHUNK_SHOTS) * n_pixels * 8
            + OUTPUT_COPIES * n_spectra * n_pixels * 8 + BYTES_PER_SHOT * shots)


def available_bytes() -> float | None:
    """Memory this machine can give a new process without swapping [bytes]; None when it does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os

        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(n_per_grade: int, n_grades: int, n_pixels: int, shots_per_spectrum: int = 1,
                 available: float | None = None) -> None:
    """Refuse, before anything is drawn, a simulation that needs more memory than is available.

    The :class:`InputError` (field ``n``) gives both figures and the largest ``n`` per grade that fits.
    """
    available = available_bytes() if available is None else available
    if available is None:
        return
    need = simulation_bytes(n_per_grade * n_grades, n_pixels, shots_per_spectrum)
    if need <= available:
        return
    # past one chunk of shots every further spectrum adds the same: its output copies and its shots' conditions
    per_spectrum = OUTPUT_COPIES * n_pixels * 8 + BYTES_PER_SHOT * shots_per_spectrum
    fixed = BASE_BYTES + CHUNK_COPIES * CHUNK_SHOTS * n_pixels * 8
    fits = max(0, int((available - fixed) // per_spectrum) // n_grades)
    raise InputError(f"{n_per_grade:,} spectra per grade ({n_per_grade * n_grades:,} of {n_pixels} pixels, "
                     f"{shots_per_spectrum} shot{'s' if shots_per_spectrum != 1 else ''} each) need about "
                     f"{need / 1e9:,.1f} GB of memory and {available / 1e9:,.1f} GB is available; simulate at most "
                     f"{fits:,} per grade at a time (another --seed for each part)", field="n")


def simulate_dataset(grades: Sequence[str], n_per_grade: int, instrument: str | Instrument, seed: int, out: str | Path,
                     *, fmt: str = "npz", progress: Callable[[int], None] | None = None, **options) -> list[Path]:
    """Simulate spectra and write them under ``out``.

    Parameters
    ----------
    grades, n_per_grade, instrument, seed
        As :func:`sorter.simulate.simulate_batch`.
    out : path
        Directory (created if missing).
    fmt : {"npz", "csv", "jcamp"}
        One batch file, or one file per spectrum plus ``manifest.csv``.
    progress : callable, optional
        Called with the number of spectra done.
    **options
        Passed to :func:`sorter.simulate.simulate_batch` (``plasma``, ``noise_scale``,
        ``wavelength_offset_nm``, ``shot_plan``).

    Returns
    -------
    list of Path
        Files written (the manifest last).
    """
    from sorter.simulate import simulate_batch

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InputError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}", field="format")
    inst = get_instrument(instrument)
    plan = options.get("shot_plan")
    check_memory(n_per_grade, len(grades), inst.n_pixels, plan.total_shots if plan is not None else 1)
    batch = simulate_batch(grades, n_per_grade, inst, seed, progress=progress, **options)
    return write_dataset(batch, out, fmt=fmt, seed=seed)


def write_dataset(batch: SpectrumBatch, out: str | Path, *, fmt: str, seed: int, prefix: str = "",
                  rows: Sequence[int] | None = None) -> list[Path]:
    """Write a simulated batch as one ``.npz`` or as files plus ``manifest.csv`` (see module notes).

    ``rows`` limits the per-spectrum formats to those spectra (their batch index stays in the name).
    """
    from sorter.io import save_batch, write_spectrum

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "npz":
        return [save_batch(out / f"{prefix}{batch.instrument}_seed{seed}.npz", batch)]
    paths = []
    manifest_rows = []
    for i in range(len(batch)) if rows is None else rows:
        label = batch.labels[i]
        name = f"{prefix}{label}_{batch.instrument}_seed{seed}_{i:04d}{EXTENSION[fmt]}"
        extra = {"grade": label, "seed": str(seed), "index": str(i)}
        extra.update({k: f"{float(batch.meta[k][i]):.6g}" for k in MANIFEST_META if k in batch.meta})
        shots = int(batch.meta["shots"][i]) if "shots" in batch.meta else 1
        spectrum = Spectrum(batch.wavelength_nm, batch.intensity[i],
                            Metadata(instrument=batch.instrument, shots=shots, piece_id=f"{label}-{seed}-{i}",
                                     extra=extra))
        paths.append(write_spectrum(out / name, spectrum, fmt))
        comp = batch.composition(i)
        manifest_rows.append({"file": name, "grade": label, "instrument": batch.instrument, "seed": seed, "index": i,
                     **{k: f"{float(batch.meta[k][i]):.6g}" for k in MANIFEST_META if k in batch.meta},
                     **{e: f"{comp.get(e, 0.0):.5g}" for e in batch.elements}})
    manifest = out / "manifest.csv"
    append_manifest(manifest, manifest_rows)
    return paths + [manifest]


def append_manifest(path: Path, rows: list[dict]) -> None:
    """Add rows to ``manifest.csv``, widening the header when new element columns appear."""
    old: list[dict] = []
    if path.exists():
        with open(path, newline="") as f:
            old = list(csv.DictReader(f))
    fixed = ["file", "grade", "instrument", "seed", "index", *MANIFEST_META]
    elements = []
    for row in old + rows:
        for key in row:
            if key not in fixed and key not in elements:
                elements.append(key)
    from blending.catalogue.composition import elements as table

    elements.sort(key=lambda e: table()[e].atomic_number if e in table() else 999)
    names = {r["file"] for r in rows}
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fixed + elements, restval="0")
        writer.writeheader()
        for row in [r for r in old if r["file"] not in names] + rows:
            writer.writerow(row)


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    """Rows of a ``manifest.csv`` as dicts (strings)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def composition_from_manifest(row: dict[str, str]) -> dict[str, float]:
    """The true composition [wt%] in a manifest row (element columns only, zeros dropped)."""
    from blending.catalogue.composition import elements

    known = elements()
    return {k: float(v) for k, v in row.items() if k in known and v not in ("", None) and float(v) > 0}

