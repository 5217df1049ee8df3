"""A model defined entirely in this file -- protocol, theory with a frontier and an overlay --
registered without touching toyscale's code, run through ``toyscale.run`` with a check, a
frontier, a frontier map and their figures. Its loss is an exact joint power law
``L(N, t) = N^-a + t^-b`` with compute ``C = N t``, so the compute-optimal frontier is known in
closed form: minimising over N at fixed C gives ``N* ~ C^(b/(a+b))`` and
``L* ~ C^(-ab/(a+b))`` (Hoffmann et al. 2022's argument; Bordelon, Atanasov & Pehlevan 2024)."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

import toyscale
from toyscale.models import Frontier, Metric, Model, Overlay, Prediction, Slice, Theory, list_models, register
from toyscale.params import Param


def evaluate(static, nested, dyn, key):
    N = jnp.asarray(nested["width"], jnp.float64)[:, None]
    t = jnp.asarray(nested["steps"], jnp.float64)[None, :]
    return {"loss": N ** -dyn["a"] + t ** -dyn["b"]}


def predict(axis: str, s: Slice) -> Prediction:
    a, b = float(s["a"]), float(s["b"])
    if axis == "width":
        t = float(s["steps"])
        return Prediction("capacity-limited", -a, law="offset",
                          curve=lambda n: np.asarray(n, float) ** -a + t ** -b, note="L = N^-a + t^-b")
    if axis == "steps":
        return Prediction("time-limited", -b, law="offset")
    return Prediction(f"no theory along {axis}", None)


def frontier(s: Slice) -> Frontier:
    a, b = float(s["a"]), float(s["b"])
    return Frontier("joint power law", a * b / (a + b), b / (a + b), note="minimise N^-a + (C/N)^-b over N")


def overlays(over, s: Slice):
    if set(over) != {"a", "b"}:
        return ()
    t = np.linspace(0.0, 3.0, 50)
    return (Overlay({"a": t, "b": t}, "a = b: xi = 1/2"),)


MODEL = register(Model(
    name="_test_joint_law", summary="test model: L = N^-a + t^-b, compute N t",
    params=(Param("a", float, 1.0, "width exponent", low=0.0),
            Param("b", float, 0.5, "time exponent", low=0.0),
            Param("width", int, 8, "model size N", low=1, role="nested"),
            Param("steps", int, 8, "recorded training steps t", low=1, role="nested")),
    metrics=(Metric("loss", "N^-a + t^-b"),),
    evaluate=evaluate,
    theory=Theory(predict=predict, frontier=frontier, overlays=overlays),
    compute=lambda row: float(row["width"]) * float(row["steps"]),
    precision="float64",
    example={"sweep": {"width": [2, 4, 8], "steps": [2, 4]}},
    references=("test model",),
))

A_VALUES, B_VALUES = [0.5, 1.0], [0.5, 1.0]


def doc():
    return {"model": "_test_joint_law", "seeds": 2,
            "sweep": {"a": A_VALUES, "b": B_VALUES, "width": [2 ** k for k in range(0, 13)],
                      "steps": [2 ** k for k in range(0, 15)]},
            "checks": [{"name": "width", "axis": "width", "where": {"a": 1.0, "b": 0.5, "steps": 16384}}],
            "frontiers": [{"name": "one", "where": {"a": 1.0, "b": 0.5}, "tolerance": 0.03},
                          {"name": "map", "over": ["a", "b"]}]}


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    return toyscale.run(doc(), out=tmp_path_factory.mktemp("custom") / "out", progress=False)


def test_registered_without_touching_toyscale():
    # private test models (names starting with "_") are runnable but not listed
    assert "_test_joint_law" not in list_models() and toyscale.get_model("_test_joint_law") is MODEL


def test_check_fits_and_scores_the_curve(res):
    e = res.check("width")
    assert e["theory"] == -1.0 and e["fitted"] == pytest.approx(-1.0, abs=0.02)
    assert e["agrees"] is True and e["curve_rel_error"] < 1e-9
    assert (res.dir / "figures" / "width.png").stat().st_size > 0
    # the figure is drawn from the stored entry: data, fit, theory line, theory curve
    assert len(res.plot("width").axes[0].lines) >= 4


def test_single_frontier_recovers_the_closed_form(res):
    f = next(f for f in res.frontiers if f["name"] == "one")
    env = f["methods"][0]
    assert f["eta_theory"] == pytest.approx(1 / 3) and f["xi_theory"] == pytest.approx(1 / 3)
    assert abs(env["eta"] - 1 / 3) < 0.03 and abs(env["xi"] - 1 / 3) < 0.08, env
    assert (res.dir / "figures" / "one.png").stat().st_size > 0


def test_frontier_map_matches_the_closed_form_in_every_cell(res):
    f = next(f for f in res.frontiers if f["name"] == "map")
    assert f["values"] == [A_VALUES, B_VALUES]
    eta, xi = np.array(f["maps"]["eta"]), np.array(f["maps"]["xi"])
    for i, a in enumerate(A_VALUES):
        for j, b in enumerate(B_VALUES):
            assert f["maps"]["eta_theory"][i][j] == pytest.approx(a * b / (a + b))
            assert f["maps"]["xi_theory"][i][j] == pytest.approx(b / (a + b))
            assert abs(eta[i, j] - a * b / (a + b)) < 0.05 and abs(xi[i, j] - b / (a + b)) < 0.1, (a, b, eta, xi)
    # residual = theory - measured, stored per cell
    assert np.allclose(np.array(f["maps"]["eta_residual"]), np.array(f["maps"]["eta_theory"]) - eta)
    # the theory's overlay is stored in parameter coordinates and drawn
    (ov,) = f["overlays"]
    assert ov["label"].startswith("a = b") and ov["a"] == ov["b"]
    assert (res.dir / "figures" / "map.png").stat().st_size > 0


def test_frontier_map_figure_draws_the_overlay_and_a_colorbar_per_panel(res):
    from toyscale.plot import frontier_map_figure

    f = next(f for f in res.frontiers if f["name"] == "map")
    fig = frontier_map_figure(f)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 6 and len(fig.axes) == 12  # six maps, six colorbars
    for ax in panels:
        assert any(list(line.get_xdata()) == list(line.get_ydata()) for line in ax.lines)  # a = b


def test_frontier_map_table_lists_every_cell(res):
    from toyscale.report import frontier_map_table

    f = next(f for f in res.frontiers if f["name"] == "map")
    rows = [r for r in frontier_map_table(f).splitlines() if r.startswith("| 0.5 |") or r.startswith("| 1 |")]
    assert len(rows) == 4
    cell = next(r for r in rows if r.startswith("| 1 | 0.5 |"))
    assert "| 0.333 |" in cell  # eta theory (and xi theory) of a = 1, b = 0.5
    report = (res.dir / "report.md").read_text()
    assert "## Compute-optimal frontier map" in report


def test_results_files_hold_what_the_results_say(res):
    stored = json.loads((res.dir / "frontiers.json").read_text())
    assert [f["name"] for f in stored] == ["one", "map"] == [f["name"] for f in res.frontiers]
