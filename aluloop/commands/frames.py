"""``aluloop frames``: simulated conveyor frames, and the pieces the camera finds in frames.

Registered as a command group in ``aluloop/cli.py``.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aluloop.errors import stderr, user_errors
from blending.errors import InputError

frames = typer.Typer(help="Camera frames: simulate them, find and classify the pieces in them.", no_args_is_help=True)
console = Console()


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)


@frames.command("simulate")
@user_errors
def simulate(
    n: int = typer.Option(..., "--n", help="Frames to write (consecutive, overlapping frames of one belt)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (created if missing)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same frames."),
    fmt: str = typer.Option("png", "--format", "-f", help="png or jpg."),
    held_out: bool = typer.Option(False, "--held-out", help="The evaluation generator: other light, blur, noise, "
                                  "JPEG artefacts and a denser belt than training."),
    empty: int = typer.Option(2, "--empty", min=0, help="Also write this many empty-belt frames (belt_empty_K) "
                              "for the background model."),
) -> None:
    """Simulate top-down conveyor frames with their truth (truth.json: every visible piece, kind, class, box)."""
    import cv2

    from sorter.vision.synthesis import Belt, SceneSettings, check_settings, empty_frames

    check_settings(n)
    fmt = fmt.lower().lstrip(".")
    if fmt not in ("png", "jpg", "jpeg"):
        raise InputError(f"--format: {fmt!r} is not one of png, jpg")
    ext = "jpg" if fmt.startswith("jp") else "png"
    settings = SceneSettings.held_out() if held_out else SceneSettings.training()
    out.mkdir(parents=True, exist_ok=True)
    truth = {"seed": seed, "generator": "held_out" if held_out else "training",
             "px_per_mm": settings.px_per_mm, "belt_speed_m_s": settings.belt_speed_m_s,
             "frame_interval_s": settings.frame_interval_s, "frames": [], "empty_belt": []}
    for k, img in enumerate(empty_frames(settings, seed, empty) if empty else []):
        name = f"belt_empty_{k}.{ext}"
        cv2.imwrite(str(out / name), img)
        truth["empty_belt"].append(name)
    with _progress() as bar:
        task = bar.add_task("frames", total=n)
        for frame in Belt(settings, seed, n).frames():
            name = f"frame_{frame.index:04d}.{ext}"
            if not cv2.imwrite(str(out / name), frame.image):
                raise OSError(f"could not write {out / name}")
            cv2.imwrite(str(out / f"labels_{frame.index:04d}.png"), frame.labels.astype("uint16"))
            truth["frames"].append({"file": name, "labels": f"labels_{frame.index:04d}.png",
                                    "timestamp_s": round(frame.timestamp_s, 6), "pieces": frame.truth})
            bar.advance(task)
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    console.print(f"wrote {n} frames, {empty} empty-belt frames and truth.json to {out}")


@frames.command("analyze")
@user_errors
def analyze(
    files: list[Path] = typer.Argument(..., help="Frames (PNG or JPEG, colour, any size), in the order taken."),
    px_per_mm: float = typer.Option(1.5, "--px-per-mm", help="Calibration [px/mm]."),
    belt_speed_m_s: float = typer.Option(2.5, "--belt-speed-m-s", help="Belt speed [m/s]; the belt runs left to "
                                         "right in the image."),
    ejector_mm: float = typer.Option(1500.0, "--ejector-mm", help="Ejector line, downstream of the image's "
                                     "left edge [mm]."),
    frame_interval_s: float = typer.Option(None, "--frame-interval-s", help="Time between consecutive frames "
                                           "[s]: track pieces across overlapping frames and report each once. "
                                           "Default: each frame on its own."),
    empty_belt: list[Path] = typer.Option(None, "--empty-belt", help="Frames of empty belt to learn the "
                                          "background from (repeatable); default: learned from each frame."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per frame on stdout (default: a table)."),
    draw: Path = typer.Option(None, "--draw", help="Write each frame with outlines and classes drawn into "
                              "this folder."),
) -> None:
    """Find, measure and classify the pieces in camera frames; one JSON object per frame with --json."""
    from sorter.vision.draw import draw_pieces
    from sorter.vision.io import read_frame
    from sorter.vision.pipeline import FrameAnalyzer

    if frame_interval_s is not None and not frame_interval_s > 0:
        raise InputError(f"--frame-interval-s: {frame_interval_s}; must be positive")
    analyzer = FrameAnalyzer(px_per_mm=px_per_mm, belt_speed_m_s=belt_speed_m_s, ejector_mm=ejector_mm,
                             track=frame_interval_s is not None)
    if empty_belt:
        analyzer.fit_empty([read_frame(p) for p in empty_belt])
    if draw:
        draw.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    failed = 0
    for k, path in enumerate(files):
        try:
            image = read_frame(path)
        except (InputError, OSError) as exc:
            stderr.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            failed += 1
            results.append({"file": str(path), "error": str(exc), "pieces": []})
            continue
        t = k * frame_interval_s if frame_interval_s else 0.0
        reports = analyzer.analyze(image, timestamp_s=t, frame_index=k)
        results.append({"file": str(path), "timestamp_s": t, "pieces": reports, "image": image if draw else None})
    for r in analyzer.flush():
        results[r.frame_index]["pieces"].append(r)
    for res in results:
        image = res.pop("image", None)
        if draw and image is not None:
            import cv2

            cv2.imwrite(str(draw / (Path(res["file"]).stem + "_detected.png")), draw_pieces(image, res["pieces"]))
        res["pieces"] = [p.to_json() for p in res["pieces"]]
        if as_json:
            sys.stdout.write(json.dumps(res) + "\n")
        else:
            _print_table(res)
    if failed:
        raise typer.Exit(2)


def _print_table(res: dict) -> None:
    from aluloop.output import stdout_console, table

    if "error" in res:
        return
    t = table(res["file"], ["piece", "class", "p", "area mm2", "bbox x,y,w,h", "to ejector s"])
    for p in res["pieces"]:
        t.add_row(str(p["piece_id"]), p["visual_class"], f"{p['probabilities'][p['visual_class']]:.2f}",
                  f"{p['area_mm2']:.0f}", ",".join(map(str, p["bbox"])), f"{p['time_to_ejector_s']:.3f}")
    stdout_console().print(t)


@frames.command("train")
@user_errors
def train(
    out: Path = typer.Option(Path("models/vision/camera.onnx"), "--out", help="Model file; the card goes beside."),
    frames_n: int = typer.Option(240, "--frames", min=4, help="Training frames (about 20 pieces each)."),
    held_out_frames: int = typer.Option(60, "--held-out-frames", min=2, help="Evaluation frames, held-out "
                                        "generator settings and seeds."),
    seed: int = typer.Option(0, "--seed", help="Seed of the training belts (evaluation: seed + 100000)."),
) -> None:
    """Train the visual-class model on simulated frames; export ONNX + card (needs the [train] extra)."""
    import numpy as np

    from sorter.vision.synthesis import VISUAL_CLASSES, SceneSettings
    from sorter.vision.training import fit_model, labelled_pieces, write_model

    settings = SceneSettings.training()
    with _progress() as bar:
        task = bar.add_task("training frames", total=frames_n)
        X, y = labelled_pieces(settings, seed, frames_n, progress=lambda k: bar.advance(task, k))
        task2 = bar.add_task("held-out frames", total=held_out_frames)
        Xh, yh = labelled_pieces(SceneSettings.held_out(), seed + 100_000, held_out_frames,
                                 progress=lambda k: bar.advance(task2, k))
    model = fit_model(X, y, seed=seed)
    pred = model.predict(Xh)
    acc = float((pred == yh).mean())
    per_class = {VISUAL_CLASSES[c]: {"n": int((yh == c).sum()), "recall": float((pred[yh == c] == c).mean())}
                 for c in np.unique(yh)}
    metrics = {"held_out_accuracy": acc, "held_out_pieces": int(yh.size), "training_pieces": int(y.size),
               "held_out_per_class": per_class, "held_out_generator": "SceneSettings.held_out()"}
    cmd = "aluloop frames train " + " ".join(shlex.quote(a) for a in
                                             ["--out", str(out), "--frames", str(frames_n), "--held-out-frames",
                                              str(held_out_frames), "--seed", str(seed)])
    write_model(model, out, settings=settings, metrics=metrics, seed=seed, n_frames=frames_n, reproduce=cmd)
    console.print(f"{out}: {y.size} training pieces; held-out accuracy {acc:.1%} on {yh.size} pieces")
