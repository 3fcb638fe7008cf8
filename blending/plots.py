"""Pictures of a recipe: the melt's chemistry against the specification window."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from blending.recipe import Recipe  # noqa: E402


def plot_chemistry(recipe: Recipe, path: str | Path) -> Path:
    """Mean +/- 1 sd of each limited quantity, placed in its spec window (0 = min, 1 = max).

    Max-only limits run from 0 wt% (0) to the max (1); the Al minimum from the minimum
    (0) to 100 wt% (1). Bars are the mean; whiskers one and two standard deviations.
    """
    rows: dict[str, list] = {}
    for lc in recipe.compliance:
        rows.setdefault(lc.limit.limit, []).append(lc)
    names, pos, sd1, prob = [], [], [], []
    for name, lcs in rows.items():
        lo = next((lc.limit.bound_wt_pct for lc in lcs if lc.limit.bound == "min"), None)
        hi = next((lc.limit.bound_wt_pct for lc in lcs if lc.limit.bound == "max"), None)
        if name == "Al":
            lo, hi = lo, 100.0
        lo = 0.0 if lo is None else lo
        span = (hi - lo) if hi is not None and hi > lo else max(abs(lo), 1e-6)
        mean, sd = lcs[0].mean_wt_pct, lcs[0].sd_wt_pct
        names.append(name)
        pos.append((mean - lo) / span)
        sd1.append(sd / span)
        prob.append(min(lc.probability for lc in lcs))
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(names) + 2), 4.5))
    xs = range(len(names))
    ax.axhspan(0, 1, color="#d8ecd8", zorder=0, label="spec window")
    colors = ["#c0392b" if p < 0.95 else "#1f4e79" for p in prob]
    ax.errorbar(xs, pos, yerr=[2 * s for s in sd1], fmt="none", ecolor="#999999", capsize=3, label="mean ± 2 sd")
    ax.errorbar(xs, pos, yerr=sd1, fmt="none", ecolor="#333333", capsize=4, lw=2, label="mean ± 1 sd")
    ax.scatter(xs, pos, c=colors, zorder=3, label="mean (red: P < 0.95)")
    ax.set_xticks(list(xs), names, rotation=60, ha="right")
    ax.set_ylabel("place in spec window\n(0 = min or 0 wt%, 1 = max)")
    ax.set_title(f"{recipe.spec_name}: predicted melt chemistry, joint P(in spec) = {recipe.p_joint:.3f}")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_ylim(min(-0.1, min(pos) - 0.2), max(1.15, max(pos) + 0.3))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
