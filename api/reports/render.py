"""A heat report (the builder's dict) as HTML (Jinja2), PDF (WeasyPrint), CSV, and its SVG chemistry plot."""

from __future__ import annotations

import csv
import io

from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(loader=PackageLoader("api.reports", "templates"), autoescape=select_autoescape(("html",)))
_env.filters["pct"] = lambda v, d=1: "" if v is None else f"{100 * v:.{d}f} %"
_env.filters["num"] = lambda v, fmt=".4g": "" if v is None else format(v, fmt)


def chemistry_svg(report: dict) -> str:
    """Each limit as a band (min to max, normalised so every element shares one axis), the predicted
    value with its 95% interval, and every OES analysis, as an SVG document."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [c for c in report["chemistry"] if c["min_wt_pct"] is not None or c["max_wt_pct"] is not None]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(len(rows), 3) + 1.2))
    for i, c in enumerate(rows):
        lo = c["min_wt_pct"] if c["min_wt_pct"] is not None else 0.0
        hi = c["max_wt_pct"]
        if hi is None:   # a minimum only: show up to twice the minimum
            hi = 2 * lo if lo > 0 else 1.0
        width = hi - lo if hi > lo else 1.0
        ax.barh(i, 1.0, left=0.0, height=0.6, color="#cfe8cf", edgecolor="#5a8f5a")
        if c["predicted_wt_pct"] is not None:
            p_lo, p_hi = c["predicted_interval_wt_pct"]
            ax.errorbar([(c["predicted_wt_pct"] - lo) / width], [i + 0.18],
                        xerr=[[(c["predicted_wt_pct"] - p_lo) / width], [(p_hi - c["predicted_wt_pct"]) / width]],
                        fmt="o", color="#1f4e9c", ms=4, capsize=3, label="predicted (95%)" if i == 0 else None)
        for j, m in enumerate(c["measured_wt_pct"]):
            x = (m - lo) / width
            clipped = x > 1.55 or x < -0.55   # far outside: drawn at the edge as an arrow
            ax.plot([min(max(x, -0.55), 1.55)], [i - 0.18], marker=(">" if x > 0 else "<") if clipped else "D",
                    ms=7 if clipped else 5, linestyle="none",
                    color="#c0392b" if j == len(c["measured_wt_pct"]) - 1 else "#e59866",
                    label=("last OES analysis" if j == len(c["measured_wt_pct"]) - 1 else "earlier analysis")
                    if i == 0 else None)
    ax.set_yticks(range(len(rows)), [f"{c['name']}  [{_band(c)}]" for c in rows])
    ax.set_xlabel("position in the limit band (0 = min, 1 = max)")
    ax.set_xlim(-0.6, 1.6)
    ax.axvline(0, color="#5a8f5a", lw=0.8)
    ax.axvline(1, color="#5a8f5a", lw=0.8)
    ax.set_title(f"{report['heat_number']} ({report['alloy']}): chemistry against the limits")
    if rows:
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    svg = out.getvalue()
    return svg[svg.index("<svg"):]


def _band(c: dict) -> str:
    if c["min_wt_pct"] is None:
        return f"max {c['max_wt_pct']:g} wt%"
    if c["max_wt_pct"] is None:
        return f"min {c['min_wt_pct']:g} wt%"
    return f"{c['min_wt_pct']:g} to {c['max_wt_pct']:g} wt%"


def html(report: dict, *, standalone: bool = True) -> str:
    return _env.get_template("report.html").render(r=report, svg=chemistry_svg(report), standalone=standalone)


def pdf(report: dict) -> bytes:
    from weasyprint import HTML

    return HTML(string=html(report)).write_pdf()


def csv_text(report: dict) -> str:
    """The chemistry table: one row per limit and analysis (predicted rows have an empty analysis)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["heat_number", "alloy", "limit", "min_wt_pct", "max_wt_pct", "kind", "analysis",
                "value_wt_pct", "interval_low_wt_pct", "interval_high_wt_pct"])
    for c in report["chemistry"]:
        if c["predicted_wt_pct"] is not None:
            w.writerow([report["heat_number"], report["alloy"], c["name"], c["min_wt_pct"], c["max_wt_pct"],
                        "predicted", "", c["predicted_wt_pct"], *c["predicted_interval_wt_pct"]])
        for a, m in zip(report["analyses"], c["measured_wt_pct"], strict=True):
            w.writerow([report["heat_number"], report["alloy"], c["name"], c["min_wt_pct"], c["max_wt_pct"],
                        "measured", a["id"], m, "", ""])
    return out.getvalue()
