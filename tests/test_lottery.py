"""The lottery model (two-layer nets on x^2) and the ticket ensemble: closed forms, invariants,
reproducibility of a row, convergence flags, bad input."""

from toyscale.theory.base import Slice
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyscale.errors import UserError
from toyscale.experiment import experiment_from_dict
from toyscale.models import lottery as L
from toyscale.models import ticket_ensemble as T


def _static(bucket, act="silu", adam=30, lbfgs=0, n=32, polish="lbfgs"):
    return {"target": "x2", "activation": act, "width": bucket, "n_train": n, "n_test": 41,
            "adam_steps": adam, "polish_steps": lbfgs, "polish": polish}


def _dyn(width, B=None, lr=1e-2):
    d = {"width": jnp.int32(width), "interval": jnp.float64(2.0), "init_scale": jnp.float64(1.0),
         "adam_lr": jnp.float64(lr)}
    return d if B is None else jax.tree.map(lambda v: jnp.stack([v] * B), d)


def test_tree_sum_is_a_sum_and_blind_to_zero_padding():
    x = np.random.default_rng(0).normal(size=(3, 13))
    s = L.tree_sum(jnp.asarray(x))
    np.testing.assert_allclose(s, x.sum(axis=1), rtol=1e-14)
    padded = np.concatenate([x, np.zeros((3, 51))], axis=1)
    assert np.array_equal(np.asarray(L.tree_sum(jnp.asarray(padded))), np.asarray(s))  # bitwise


@pytest.mark.parametrize("act", [a if a in ("silu", "relu") else pytest.param(a, marks=pytest.mark.slow)
                                 for a in L.ACTIVATIONS])
def test_closed_form_gradient_equals_autodiff(act):
    p = L.init_params(jax.random.key(1), 7, 7, 1.0, jnp.float64)
    x = L.grid(33, 2.0, jnp.float64)
    y = x * x
    v, g = L.mse_and_grad(p, x, y, act)
    v2, g2 = jax.value_and_grad(L.mse)(p, x, y, L.activation_fn(act))
    np.testing.assert_allclose(v, v2, rtol=1e-13)
    for k in g:
        np.testing.assert_allclose(g[k], g2[k], rtol=1e-10, atol=1e-14, err_msg=k)


def test_init_does_not_depend_on_bucket_and_padding_is_zero():
    a = L.init_params(jax.random.key(3), 5, 5, 1.0, jnp.float64)
    b = L.init_params(jax.random.key(3), 16, 5, 1.0, jnp.float64)
    for k in ("w", "c", "a"):
        assert np.array_equal(np.asarray(b[k][:5]), np.asarray(a[k])) and not np.any(np.asarray(b[k][5:]))


def test_adam_phase_bitwise_same_in_any_batch_and_padding_exact_to_rounding():
    curves = {}
    for bucket, B in ((5, 1), (5, 3), (8, 1)):
        fn = lambda dyn, k, bucket=bucket: L.train(_static(bucket), dyn, jax.random.key(k), (1, 30))[1]  # noqa: E731
        curves[bucket, B] = np.asarray(jax.jit(jax.vmap(fn))(_dyn(5, B), jnp.arange(B, dtype=jnp.uint32)))[0]
    # the vmapped batch: bitwise (fixed-order sums, closed-form gradient)
    assert np.array_equal(curves[5, 3], curves[5, 1])
    # zero padding: the same network up to the last bit of vectorised transcendental functions
    # (measured 4e-16 relative; widths are never padded by the engine, see lottery.bucket)
    np.testing.assert_allclose(curves[8, 1], curves[5, 1], rtol=1e-13)


@pytest.mark.slow  # two L-BFGS compiles (~10 s); the nesting is also what lottery_x2's two slices rely on
def test_protocols_nest_and_lbfgs_decreases_the_loss():
    # Adam-only for 30 steps is the first 30 steps of Adam + L-BFGS: the adam_steps slice of one
    # run is the Adam-only protocol, bitwise. The zoom line search enforces sufficient decrease.
    f = lambda s: jax.jit(lambda k: L.train(s, _dyn(6), k, (30,))[1])(jax.random.key(2))  # noqa: E731
    a = np.asarray(f(_static(6, adam=30, lbfgs=0)))
    b = np.asarray(f(_static(6, adam=30, lbfgs=40)))
    assert np.array_equal(a, b[:31])
    assert np.all(np.diff(b[30:]) <= 1e-15 * b[30:-1]) and b[-1] < 0.5 * b[30]


def test_lm_jacobian_is_autodiff_of_the_residuals():
    th = L.flatten(L.init_params(jax.random.key(4), 6, 6, 1.0, jnp.float64))
    x = L.grid(17, 2.0, jnp.float64)
    for act in ("silu", "relu"):
        r, jac = L.residuals_and_jacobian(th, x, x * x, act)
        auto = jax.jacfwd(lambda t: L.residuals_and_jacobian(t, x, x * x, act)[0])(th)
        np.testing.assert_allclose(jac, auto, rtol=1e-12, atol=1e-15)
        # |r|^2 is the MSE of the same network
        np.testing.assert_allclose(r @ r, L.mse(L.unflatten(th), x, x * x, L.activation_fn(act)), rtol=1e-13)


def test_lm_reaches_an_attained_minimum_and_stops():
    # A target the network represents exactly (a width-2 net, cond(J^T J) ~ 1e6): min J = 0 is
    # attained and Gauss-Newton is exact at a zero-residual minimum, so LM from a nearby start
    # must converge quadratically to rounding level (measured: 4.8e-32 after 22 iterations) and
    # then stop. (A width-3 net has cond ~ 6e11 and a near-flat valley: LM creeps linearly there,
    # 4e-14 after 200 iterations -- ill-conditioning, the subject of docs/theory.md §3.3.)
    x = L.grid(40, 2.0, jnp.float64)
    true = {"w": jnp.array([0.9, -1.4]), "c": jnp.array([0.3, -0.5]), "a": jnp.array([1.2, -0.8]), "d": jnp.float64(0.2)}
    y = L.forward(true, x, jax.nn.silu)
    start = L.flatten(true) + 0.05 * jax.random.normal(jax.random.key(0), (7,), jnp.float64)
    th, vals, _ = jax.jit(lambda t: L.levenberg_marquardt(t, x, y, "silu", 0.0, 100, lambda i, q: 0.0))(start)
    vals = np.asarray(vals)
    assert vals[-1] < 1e-28 and np.all(np.diff(vals) <= 0)
    assert vals[-30] == vals[-1]  # stopped: later iterations leave theta unchanged
    np.testing.assert_allclose(th, L.flatten(true), rtol=1e-8)


def test_lm_with_weight_decay_ends_at_a_stationary_point():
    # J = MSE + lam |theta_h|^2 has a minimiser; at LM's stop the gradient of J, computed
    # independently by autodiff of `objective`, vanishes to rounding, and J is no higher than
    # after the same number of L-BFGS iterations from the same Adam start.
    lam = 1e-5
    f = lambda pol: jax.jit(lambda k: L.train(_static(6, adam=200, lbfgs=300, polish=pol),  # noqa: E731
                                              dict(_dyn(6), weight_decay=jnp.float64(lam)), k, (200, 500)))
    p, curve, d = f("lm")(jax.random.key(1))
    x = L.grid(32, 2.0, jnp.float64)
    g = jax.grad(L.objective)(p, x, x * x, jax.nn.silu, lam)
    gnorm = float(np.sqrt(sum(float(jnp.sum(v * v)) for v in g.values())))
    assert gnorm < 1e-9 * float(curve[200]) ** 0.5, gnorm
    assert float(d["grad_norm"][1]) < 1e-9
    _, curve_lbfgs, _ = f("lbfgs")(jax.random.key(1))
    assert np.array_equal(np.asarray(curve[:200]), np.asarray(curve_lbfgs[:200]))  # same Adam phase, bitwise
    np.testing.assert_allclose(curve[200], curve_lbfgs[200], rtol=1e-14)  # J after Adam, two code paths
    assert float(curve[-1]) <= float(curve_lbfgs[-1]) * (1 + 1e-12)


def test_status_is_max_iterations_exactly_when_the_loss_still_moves(tmp_path):
    from toyscale.sweep import plan, execute, schedule

    exp = experiment_from_dict({"model": "lottery", "seeds": 3, "params": {"n_train": 16, "n_test": 17,
                                "adam_steps": 40, "polish_steps": 20, "adam_lr": 1e-2},
                                "sweep": {"width": [4], "steps": [20, 40, 50, 60]}})
    with jax.enable_x64(True):
        p = plan(exp)
        res = execute(p, schedule(p, set(), 1024)[0])
    moving = res["rel_change"] > L.CONVERGED_REL_CHANGE
    code = L.MODEL.status_code("max_iterations")
    assert np.array_equal(res["status"] == code, moving) and np.array_equal(res["status"] == 0, ~moving)
    assert L.window(60, 40) == 2 and L.window(40, 40) == 4 and L.window(45, 40) == 1


def test_symmetric_pairs_counts_mirrored_neurons_and_the_pair_is_even():
    p = {"w": jnp.array([1.3, -1.32, 0.7, 2.0, 0.0]), "c": jnp.array([0.4, 0.41, -1.0, 0.4, 0.0]),
         "a": jnp.array([0.5, 0.51, 0.5, -0.5, 0.0]), "d": jnp.float64(0.0)}
    count, frac = L.symmetric_pairs(p, 4)
    assert float(count) == 1.0 and float(frac) == pytest.approx(2 / 4)
    # perturbing the mirror beyond the tolerance breaks the pair
    q = dict(p, w=p["w"].at[1].set(-1.3 * (1 + 3 * L.SYMMETRY_TOL)))
    assert float(L.symmetric_pairs(q, 4)[0]) == 0.0
    # a mirrored pair is an even function of x (the ticket of Liu & Tegmark)
    pair = {"w": jnp.array([1.3, -1.3]), "c": jnp.array([0.4, 0.4]), "a": jnp.array([0.5, 0.5]), "d": jnp.float64(0)}
    x = jnp.linspace(0.1, 2.0, 9)
    for act in L.ACTIVATIONS:
        s = L.activation_fn(act)
        np.testing.assert_allclose(L.forward(pair, x, s), L.forward(pair, -x, s), rtol=1e-14)


@pytest.mark.parametrize("bad, field", [
    ({"sweep": {"steps": [10, 99]}}, "sweep.steps"),
    ({"sweep": {"steps": [0, 10]}}, "sweep.steps"),
    ({"params": {"activation": "sigmoid"}}, "params.activation"),
    ({"params": {"adam_steps": 0, "polish_steps": 0}}, "params.adam_steps"),
    ({"params": {"polish": "newton"}}, "params.polish"),
    ({"params": {"weight_decay": -1e-6}}, "params.weight_decay"),
])
def test_bad_input_names_the_field(bad, field):
    doc = {"model": "lottery", "seeds": 1, "params": {"adam_steps": 50, "polish_steps": 10, **bad.get("params", {})},
           "sweep": {"width": [4], **bad.get("sweep", {})}}
    with pytest.raises(UserError) as e:
        experiment_from_dict(doc)
    assert e.value.field == field


def test_theory_draws_both_laws():
    from toyscale.theory import lottery as th

    for act, main in (("silu", -1.0), ("relu", -4.0)):
        pr = th.predict("width", Slice({"activation": act}, "width", (8, 16, 32)))
        assert pr.slope == main and set(pr.alternatives.values()) == {-1.0, -4.0}
        pr = th.predict("width", Slice({"activation": act, "weight_decay": 1e-6}, "width", (8, 16, 32)))
        assert pr.slope == main and set(pr.alternatives.values()) == {-1.0, -4.0, 0.0}


# ----------------------------------------------------------------------------- tickets


@pytest.mark.parametrize("act", ["silu", "tanh", "gelu"])
def test_ticket_error_is_the_quartic_taylor_term(act):
    # e(x) = sigma''''(c) w^2 x^4 / (12 sigma''(c)) + O(w^4 x^6): at small w the ratio -> 1
    s = T.activation_fn(act)
    d2, d4 = jax.grad(jax.grad(s)), jax.grad(jax.grad(jax.grad(jax.grad(s))))
    c, x = 0.6, jnp.array([0.5, 1.0])
    for w in (0.1, 0.05):  # small enough for the Taylor term, large enough to avoid cancellation
        e = T.ticket_errors(jnp.array([w]), jnp.array([c]), x, act)[0]
        lead = d4(c) * w * w * x ** 4 / (12 * d2(c))
        np.testing.assert_allclose(e, lead, rtol=3 * w * w)  # next term: relative O(w^2 x^2)


def test_ticket_ensemble_variance_falls_as_one_over_n(tmp_path):
    from toyscale.fit import fit_scaling
    from toyscale.store import ResultStore
    from toyscale.sweep import run_experiment
    from toyscale.theory.ticket_ensemble import ticket_variance

    widths = [1, 4, 16, 64, 256]
    exp = experiment_from_dict({"model": "ticket_ensemble", "seeds": 4, "params": {"ensembles": 128, "n_grid": 21},
                                "sweep": {"width": widths}})
    run_experiment(exp, tmp_path, progress=False)
    df = ResultStore(tmp_path).load()
    Y = np.array([df[df.width == n].sort_values("seed").error_variance.to_numpy() for n in widths])
    fit = fit_scaling(widths, Y, n_boot=200)
    assert abs(fit.slope + 1.0) <= 0.1, fit.slope
    # the prefactor: Var(one ticket), numpy Monte Carlo; sampling error of 4 x 128 ensembles ~ 6 %
    v = ticket_variance("silu", 1.0, 21, 0.5)
    np.testing.assert_allclose(Y.mean(axis=1) * np.array(widths), v, rtol=0.25)


def test_report_scores_every_alternative_prediction():
    # Spine: Prediction.alternatives -> entry["alternatives"], "agrees_with", a table column, figure lines.
    import pandas as pd

    from toyscale.models import get_model
    from toyscale.analysis import evaluate_check
    from toyscale.plot import check_figure
    from toyscale.report import table

    rng = np.random.default_rng(0)
    rows = [{"width": n, "seed": s, "activation": "silu", "steps": 0, "status": "ok",
             "loss": 3.0 * n ** -4.0 * np.exp(0.01 * rng.normal())} for n in (8, 16, 32, 64, 128) for s in range(3)]
    check = {"name": "w", "axis": "width", "where": {"activation": "silu", "steps": 0}, "tolerance": 0.25}
    e = evaluate_check(pd.DataFrame(rows), get_model("lottery"), {}, check, n_boot=100)
    assert abs(e["fitted"] + 4.0) < 0.05 and e["agrees"] is False  # the main (paper) slope is -1
    assert e["agrees_with"] == ["approximation N^-4"]
    assert [a["agrees"] for a in e["alternatives"]] == [False, True]
    assert "agrees with" in table([e]) and "approximation N^-4" in table([e])
    assert len(check_figure(e).axes[0].lines) >= 4  # data, fit, theory, the other law


def test_converged_protocol_weight_decay_saturates_and_is_not_n_to_the_minus_one(tmp_path):
    # The acceptance in miniature (docs/theory.md §3.3-3.4): with weight decay the objective
    # has a minimiser, LM reaches it (status ok, |grad J| at rounding level), and the converged
    # test MSE saturates in N -- the report's fit agrees with slope 0 and not with the paper's -1.
    from toyscale.report import make_report
    from toyscale.sweep import run_experiment

    exp = experiment_from_dict({
        "model": "lottery", "seeds": 3,
        "params": {"n_train": 64, "n_test": 201, "adam_steps": 500, "adam_lr": 1e-2, "polish": "lm",
                   "polish_steps": 1500, "weight_decay": 1e-6},
        "sweep": {"width": [8, 16, 32]},
        # widths 8...32 span 0.6 decades: the fit-validity guard is turned off for this miniature
        "checks": [{"axis": "width", "statistic": "median", "tolerance": 0.25, "min_decades": 0}]})
    run_experiment(exp, tmp_path, progress=False)
    from toyscale.store import ResultStore

    df = ResultStore(tmp_path).load()
    assert (df.status == "ok").all() and (df.grad_norm < 1e-9).all()
    (e,) = make_report(tmp_path, figures=False).checks
    assert e["agrees_with"] == ["weight-decay optimum saturates N^0"], (e["fitted"], e["agrees_with"])
    assert e["agrees"] is False
