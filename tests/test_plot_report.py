"""Figures and report pieces drawn from stored results: readable ticks on short log axes, a
colorbar wherever colour encodes a value, the measured slope shown without a theory exponent,
and run-level records picked up by the report."""

import json

import numpy as np
import pandas as pd
import pytest

import toyscale
from toyscale.analysis import evaluate_check
from toyscale.models import get_model
from toyscale.plot import check_figure, curves_figure, figure, log_axes
from toyscale.report import table


def test_short_log_axis_labels_every_swept_value():
    fig, (ax,) = figure()
    xs = [8, 16, 32, 64]
    ax.plot(xs, [1.0, 0.5, 0.25, 0.125])
    log_axes(ax, "width", "loss", xvalues=xs)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["8", "16", "32", "64"]
    # a long range keeps decade ticks
    fig, (ax,) = figure()
    xs = np.geomspace(1, 1e4, 9)
    log_axes(ax, "width", "loss", xvalues=xs)
    assert not np.allclose(ax.get_xticks(), xs)


def _rows(slope_of_axis=-0.7, axis="alpha"):
    rng = np.random.default_rng(0)
    return pd.DataFrame([{axis: x, "seed": s, "width": 16, "weight_decay": 0.0, "steps": t, "status": "ok",
                          "loss": x ** slope_of_axis * (1 + 1 / t) * np.exp(0.01 * rng.normal()),
                          "represented_fraction": 0.5}
                         for x in (0.25, 0.5, 1.0, 2.0) for s in range(3) for t in (10, 100)])


def test_check_without_theory_exponent_still_fits_and_shows_the_slope():
    model = get_model("superposition")
    check = {"name": "a", "axis": "alpha", "where": {"steps": 100}}
    e = evaluate_check(_rows(), model, {"n_features": 64}, check, n_boot=100).to_json()
    assert e["theory"] is None and e["agrees"] is None and "theory_in_ci" not in e
    assert e["fitted"] == pytest.approx(-0.7, abs=0.02) and e["ci_low"] < e["fitted"] < e["ci_high"]
    row = table([e]).splitlines()[-1]
    assert f"{e['fitted']:+.3f} [" in row and "| — | — |" in row  # both verdicts empty, the slope shown
    labels = [line.get_label() for line in check_figure(e).axes[0].lines]
    assert any(lab.startswith("fit: slope") for lab in labels)


def test_training_curves_figure_has_a_colorbar_for_the_axis_value():
    model = get_model("superposition")
    check = {"name": "a", "axis": "alpha", "where": {"steps": 100}, "statuses_fitted": ["ok"]}
    e = evaluate_check(_rows(), model, {"n_features": 64}, check, n_boot=10).to_json()
    fig = curves_figure(e, _rows(), "steps")
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "alpha"  # the plot and its colorbar


def test_run_level_records_reach_the_report_and_results(tmp_path):
    doc = {"model": "random_features", "seeds": 2, "params": {"alpha": 1.0, "beta": 0.25, "samples": float("inf"),
                                                              "latent_dim": 256},
           "sweep": {"width": [8, 16, 32, 64]}, "checks": [{"axis": "width"}]}
    out = tmp_path / "r"
    toyscale.run(doc, out=out, progress=False)
    audit = {"reference": "float64", "cells": 3, "max_rel_diff": {"loss": 0.5}, "ok": False,
             "reason": "float32 moves the width slope by more than its interval"}
    (out / "precision_audit.json").write_text(json.dumps(audit))
    res = toyscale.load(out, report=True)
    assert res.records["precision_audit"] == audit and res.precision_audit == audit
    prov = res.records["provenance"]  # every run records what made it
    assert prov["runs"] == 1 and prov["platform"] == "cpu" and prov["precision"] == "float64"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["precision_audit"] == audit and summary["provenance"] == prov and len(summary["checks"]) == 1
    first = (out / "report.md").read_text().splitlines()[:4]
    assert any("NOT OK" in line and audit["reason"] in line for line in first), first
    # an ok record adds no warning
    (out / "precision_audit.json").write_text(json.dumps({**audit, "ok": True}))
    toyscale.load(out, report=True)
    assert "NOT OK" not in (out / "report.md").read_text()
