"""Independent checks of a charge's chance constraints, from the lots' own analyses (not the solver's cones)."""

import numpy as np
from scipy.stats import norm


def per_limit_probability(model, x_kg: np.ndarray) -> np.ndarray:
    """P(each limit holds) of a charge x [kg], in closed form from the lots' own analyses (not the cones):
    the melt's element is sum_i y_i x_i r_e C_ie / M, normal with sd sqrt(sum_i (y_i x_i / M)^2
    sum_e (r_e S_ie)^2) for independent lots."""
    share = model.metal_yield * x_kg / model.melt.mass_kg
    out = []
    for lim in model.limits:
        cols = [model.elements.index(e) for e in lim.elements]
        r = model.recovery[cols]
        mean = share @ (model.mean_wt_pct[:, cols] * r).sum(axis=1)
        sd = np.sqrt((share ** 2) @ ((model.sd_wt_pct[:, cols] * r) ** 2).sum(axis=1))
        margin = lim.sense * (lim.rhs_wt_pct - mean)
        out.append(norm.cdf(margin / sd) if sd > 0 else float(margin >= -1e-9))
    return np.array(out)
