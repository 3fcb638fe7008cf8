"""Chance-constraint maths: z scores, Bonferroni, tangent cuts, cone evaluation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from blending.chance import Cone, bonferroni, z_score
from blending.solver.program import ConeStack


def test_z_scores_are_normal_quantiles():
    assert z_score(0.5) == 0.0
    assert z_score(0.95) == pytest.approx(1.6448536, abs=1e-6)
    assert z_score(0.99) == pytest.approx(2.3263479, abs=1e-6)


@pytest.mark.parametrize("bad", [0.49, 1.0, 1.2, -0.1])
def test_confidence_outside_range_is_refused(bad):
    with pytest.raises(ValueError, match="must be at least 0.5 and below 1"):
        z_score(bad)


def test_bonferroni_splits_the_risk_evenly():
    assert bonferroni(0.95, 10) == pytest.approx(0.995)
    assert bonferroni(0.9, 1) == pytest.approx(0.9)


vec = arrays(np.float64, 5, elements=st.floats(0, 3))


@settings(max_examples=200)
@given(a=arrays(np.float64, 5, elements=st.floats(-1, 1)), d=vec, d0=st.floats(0, 1), z=st.floats(0, 3),
       vbar=vec, v=vec)
def test_tangent_cut_never_cuts_off_a_feasible_point(a, d, d0, z, vbar, v):
    cone = Cone(a=a, a0=-0.5, d=d, d0=d0, z=z)
    g, h = cone.cut(vbar)
    # the cut is a lower bound of the cone function everywhere and exact at vbar
    assert g @ v - h <= cone.value(v) + 1e-9
    assert g @ vbar - h == pytest.approx(cone.value(vbar), abs=1e-9)


def test_cone_stack_agrees_with_each_cone():
    rng = np.random.default_rng(0)
    cones = [Cone(rng.normal(size=4), float(rng.normal()), rng.uniform(size=4), 0.1, 1.6) for _ in range(3)]
    v = rng.uniform(size=4)
    np.testing.assert_allclose(ConeStack(cones, 4).values(v), [c.value(v) for c in cones])


def test_a_sweep_on_one_lifted_model_matches_separate_solves():
    # the hook a Pareto front uses: one kept-alive model, a recycled-content floor moved along
    from blending.charge_model import build_charge_model
    from blending.optimise import solve
    from blending.solver.cutting_planes import solve_stages
    from blending.solver.outer_approximation import Lifted, rounds
    from blending.solver.program import ConeStack
    from research.synthetic_heats import random_heat

    lots, melt, spec = random_heat(1)
    model = build_charge_model(lots, melt, spec, confidence=0.95)
    best = -solve(model).stage_values[0]
    lp = model.program(model.terms["cost"])
    lifted = Lifted(lp, lp.lower, lp.upper)
    stack = ConeStack(lp.cones, model.n)
    row = lifted.add_row(model.terms["recycled"], 0.0, np.inf)
    for floor in np.linspace(0.5 * best, best, 4):
        lifted.set_row_bounds(row, floor, np.inf)
        x, _, worst = rounds(lifted, stack, 1e-9)
        separate = solve_stages(model.with_row("min recycled", model.terms["recycled"], lo=floor).program(
            model.terms["cost"]), [model.terms["cost"]], hold=0.0)[0]
        assert worst <= 1e-8
        assert model.term("cost", x[:model.n]) == pytest.approx(separate.objective, rel=1e-7)


def test_a_heat_solves_after_another_highs_user_sized_the_thread_pool():
    # our LPs run on one HiGHS thread; HiGHS refuses to run an instance whose thread count
    # differs from the process-wide pool that the first run made
    import highspy

    from blending.charge_model import build_charge_model
    from blending.optimise import solve
    from research.synthetic_heats import random_heat

    highspy.Highs.resetGlobalScheduler(True)
    other = highspy.Highs()
    other.setOptionValue("output_flag", False)
    other.setOptionValue("threads", 2)
    other.addVars(2, np.zeros(2), np.ones(2))
    other.changeColsCost(2, np.arange(2, dtype=np.int32), np.array([-1.0, -2.0]))
    assert other.run() == highspy.HighsStatus.kOk
    lots, melt, spec = random_heat(3)
    model = build_charge_model(lots, melt, spec, confidence=0.95)
    first = solve(model)
    assert first.status == "optimal"
    assert solve(model).stage_values == pytest.approx(first.stage_values, rel=1e-9)


def test_solver_chatter_during_integer_solves_goes_to_stderr_not_stdout(capfd):
    """HiGHS's MIP code printf()s a debug line regardless of its output options; stdout carries --json."""
    import os

    from blending.solver.highs import stdout_to_stderr

    os.write(1, b"before\n")
    with stdout_to_stderr():
        os.write(1, b"HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();\n")
    os.write(1, b"after\n")
    out, err = capfd.readouterr()
    assert out == "before\nafter\n"
    assert "tmpSolver.run()" in err


def test_bonferroni_accepts_one_half_and_refuses_one_by_name():
    # the edges of the range z_score accepts: 0.5 (the LP on means) in, 1 (infinite margins) out
    assert bonferroni(0.5, 1) == 0.5
    assert bonferroni(0.5, 4) == pytest.approx(0.875)
    for bad in (1.0, 1.5, 0.49):
        with pytest.raises(ValueError, match=f"joint confidence {bad:g} must be at least 0.5 and below 1"):
            bonferroni(bad, 3)


def test_bonferroni_with_no_limits_is_the_joint_confidence():
    assert bonferroni(0.9, 0) == pytest.approx(0.9)


def test_joint_lower_bound_by_hand():
    from blending.chance import joint_lower_bound

    # Mg min and max share one element (their risks add), Si alone, Mn+Cr by Boole:
    # (1 - 0.01 - 0.02) (1 - 0.03) - 0.04 = 0.9009, above Bonferroni's 1 - 0.10
    groups = [("Mg",), ("Mg",), ("Si",), ("Mn", "Cr")]
    assert joint_lower_bound(groups, [0.01, 0.02, 0.03, 0.04]) == pytest.approx(0.9009, abs=1e-15)
    assert joint_lower_bound([("Mg",)], [0.05]) == pytest.approx(0.95)
    assert joint_lower_bound([], []) == 1.0
    # two sum limits: their risks add (Boole)
    assert joint_lower_bound([("Mn", "Cr"), ("Si", "Fe")], [0.01, 0.02]) == pytest.approx(0.97, abs=1e-15)
    with pytest.raises(ValueError):
        joint_lower_bound(groups, [0.01])          # one risk per limit
