"""Precision policy and precision audit: the model's declaration sets the precision on every
device, float32 runs multiply at full float32 precision unless they opt out, and every float32
run re-evaluates a sample of its cells in float64 and says whether a fitted number moved."""

import json
import math
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import toyscale
from toyscale.audit import TRAJECTORY_Z, audit_line, reference_devices, sample_cells
from toyscale.cli import main
from toyscale.errors import UserError
from toyscale.experiment import experiment_from_dict, experiment_from_doc
from toyscale.models import Frontier, Metric, Model, Prediction, Theory, register
from toyscale.params import Param
from toyscale.sweep import plan, precision_context, resolve_precision, run_experiment

SHIFT = 0.3  # the test model's float32 rows carry an extra factor N^SHIFT: the slope moves by exactly SHIFT
TRACED = []  # default matmul precision seen while tracing the test model


def _bent_eval(static, nested, dyn, key):
    TRACED.append(jax.config.jax_default_matmul_precision)
    dt = jnp.result_type(float)
    N = jnp.asarray(nested["width"], dt)
    loss = dyn["scale"] * N ** -1.0
    if dt == jnp.float32:  # a precision bug in closed form: the float32 slope is -1 + SHIFT
        loss = loss * N ** SHIFT
    return {"loss": loss}


BENT = register(Model(
    name="_bent", summary="test model: loss = scale N^-1, times N^SHIFT in float32",
    params=(Param("scale", float, 1.0, "prefactor"), Param("width", int, 8, "size", low=1, role="nested")),
    metrics=(Metric("loss", "loss"),),
    evaluate=_bent_eval,
    theory=Theory(predict=lambda axis, s: Prediction("toy", -1.0)),
    precision="float64", audit_rule="roundoff",
))


def _chaos_eval(static, nested, dyn, key):
    # a "trajectory": float32 and float64 draw different outcomes of the same distribution
    # (another key), float32 shifted by dyn["bias"] seed spreads (sd 0.1)
    dt = jnp.result_type(float)
    other = jax.random.fold_in(key, 1 if dt == jnp.float32 else 2)
    N = jnp.asarray(nested["width"], dt)
    z = jax.random.normal(other, (len(nested["width"]),), dt)
    bias = jnp.where(dt == jnp.float32, dyn["bias"], 0.0)
    return {"loss": N ** -1.0 * (1 + 0.1 * (z + bias))}


CHAOS = register(Model(
    name="_chaos", summary="test model: seed-to-seed spread 10 %, float32 another draw (+ bias)",
    params=(Param("bias", float, 0.0, "float32 shift in seed spreads"), Param("width", int, 8, "size", low=1, role="nested")),
    metrics=(Metric("loss", "loss"),),
    evaluate=_chaos_eval,
    theory=Theory(predict=lambda axis, s: Prediction("toy", -1.0)),
    precision="float32", audit_rule="trajectory",
))


def _bent_doc(**kw):
    return {"model": "_bent", "seeds": 2, "sweep": {"width": [4, 8, 16, 32, 64], "scale": [1.0, 2.0, 3.0]},
            "checks": [{"axis": "width", "where": {"scale": 1.0}}], **kw}


# ---------------------------------------------------------------- the precision policy


@pytest.mark.parametrize("platform", ["cpu", "gpu", "tpu"])
def test_the_model_declaration_not_the_platform_sets_the_precision(platform):
    rf = experiment_from_dict({"model": "random_features", "params": {"latent_dim": 8}, "sweep": {"width": [2, 4]}})
    sp = experiment_from_dict({"model": "superposition", "params": {"n_features": 16, "horizon": 10, "warmup": 1},
                               "sweep": {"width": [2, 4]}})
    assert resolve_precision(rf, platform).precision == "float64"
    assert resolve_precision(sp, platform).precision == "float32"
    assert resolve_precision(rf, platform).fingerprint() == rf.fingerprint()
    # an explicit request below the declaration is kept (and is another experiment)
    low = experiment_from_doc({"model": "random_features", "params": {"latent_dim": 8}, "sweep": {"width": [2, 4]}},
                              overrides=["precision=float32"])
    assert resolve_precision(low, platform).precision == "float32" and low.fingerprint() != rf.fingerprint()


def test_a_declaration_can_depend_on_the_scheme():
    base = {"model": "associative_memory", "params": {"vocab": 20, "classes": 2, "width": 8}}
    learned = experiment_from_dict({**base, "sweep": {"samples": [16, 32]},
                                    "params": {**base["params"], "scheme": "learned", "batch_size": 8}})
    mixed = experiment_from_dict({**base, "sweep": {"scheme": ["frequency", "learned"], "samples": [16, 32]},
                                  "params": {**base["params"], "batch_size": 8}})
    assert learned.precision == "float32" and mixed.precision == "float64"
    m = toyscale.models.get_model("associative_memory")
    assert m.audit_rule_for({"scheme": ["learned"], "optimizer": ["adam"]}) == "trajectory"
    assert m.audit_rule_for({"scheme": ["threshold"], "optimizer": ["adam"]}) == "roundoff"


def test_matmul_precision_is_a_validated_key_in_the_fingerprint(capsys, tmp_path):
    doc = {"model": "random_features", "params": {"latent_dim": 8}, "sweep": {"width": [2, 4]}, "precision": "float32"}
    plain = experiment_from_dict(doc)
    assert plain.matmul_precision == "highest"
    assert "matmul_precision" not in plain.to_dict()  # fingerprints of files without the key do not change
    assert experiment_from_dict({**doc, "matmul_precision": "highest"}).fingerprint() == plain.fingerprint()
    tf32 = experiment_from_dict({**doc, "matmul_precision": "tf32"})
    assert tf32.matmul_precision == "tf32" and tf32.fingerprint() != plain.fingerprint()
    with pytest.raises(UserError) as e:
        experiment_from_dict({**doc, "matmul_precision": "fast"})
    assert e.value.field == "matmul_precision" and "'highest', 'tf32', 'bf16', 'default'" in str(e.value)
    f = tmp_path / "bad.toml"
    f.write_text('model = "random_features"\nmatmul_precision = "fast"\n[sweep]\nwidth = [2, 4]\n')
    assert main(["run", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("toyscale: matmul_precision:") and not (tmp_path / "o").exists()


@pytest.mark.parametrize("matmul,jax_name", [(None, "highest"), ("tf32", "tensorfloat32"), ("default", "default")])
def test_a_float32_run_multiplies_at_highest_precision_unless_it_opts_out(tmp_path, matmul, jax_name):
    doc = _bent_doc(precision="float32", seeds=1, checks=[])
    if matmul:
        doc["matmul_precision"] = matmul
    TRACED.clear()
    run_experiment(experiment_from_dict(doc), tmp_path / "o", progress=False)
    assert TRACED and set(TRACED) == {jax_name}  # what the model's program was traced under
    assert jax.config.jax_default_matmul_precision is None  # and nothing after the run
    # the products of a program compiled in that context carry the precision
    exp = experiment_from_dict(doc)
    with precision_context(exp):
        x = jnp.ones((4, 4), jnp.float32)
        hlo = jax.jit(lambda a, b: a @ b).lower(x, x).as_text()
    if matmul is None:
        assert "HIGHEST" in hlo
    elif matmul == "default":
        assert "HIGHEST" not in hlo


def test_list_shows_the_declared_precision(capsys):
    assert main(["list", "random_features"]) == 0
    out = capsys.readouterr().out
    assert "declared precision: float64" in out and "precision audit rule: roundoff" in out
    assert main(["list", "superposition"]) == 0
    out = capsys.readouterr().out
    assert "declared precision: float32" in out and "precision audit rule: trajectory" in out


# ---------------------------------------------------------------- the audit


def test_the_sample_is_deterministic_and_spread_over_groups():
    exp = experiment_from_dict({"model": "random_features", "seeds": 10,
                                "params": {"latent_dim": 8, "samples": math.inf},
                                "sweep": {"alpha": [0.5, 1.0, 1.5, 2.0], "learner": ["ridge", "gd"],
                                          "width": [2, 4], "steps": [math.inf]}})
    p = plan(exp)
    n = sum(len(g.cells) for g in p.groups)
    assert n == 80 and len(p.groups) == 2
    s = sample_cells(p, 0.05)
    assert len(s) == 4 and s == sample_cells(plan(exp), 0.05) and len(sample_cells(p, 0.04)) == 3
    assert sorted(gi for gi, _ in s) == [0, 0, 1, 1]  # proportional to the groups' 40 + 40 cells
    assert len(sample_cells(p, 0.0)) == 1  # at least one cell
    assert len(sample_cells(p, 1.0)) == n


def test_the_sample_fits_the_cost_budget_and_a_dear_group_only_when_its_cell_fits():
    # Two groups of 16 cells, one cell of the second costs 10x one of the first (the quickstart's
    # width = inf group vs the finite widths). Total cost 16 + 160 = 176.
    model = SimpleNamespace(cell_bytes=lambda static, nested: static["c"])
    p = SimpleNamespace(model=model, groups=[SimpleNamespace(static={"c": 1}, nested={}, cells=list(range(16))),
                                             SimpleNamespace(static={"c": 10}, nested={}, cells=list(range(100, 116)))])
    # 4 %: one cell (the count), budget 7.04: the dear cell (10) does not fit, a cheap one does.
    assert sample_cells(p, 0.04) == [(0, 8)]
    # 25 %: eight cells, budget 44: alternating by lag behind the proportional share (4 each),
    # cheaper first: 4 cheap + 4 dear = 44, exactly the budget.
    s = sample_cells(p, 0.25)
    gs = [gi for gi, _ in s]
    assert len(s) == 8 and gs.count(1) == 4 and sum(p.groups[gi].static["c"] for gi in gs) <= 0.25 * 176
    assert sample_cells(p, 0.25) == s  # deterministic
    # Nothing fits: one cell of the cheapest group, in its middle.
    assert sample_cells(p, 0.0) == [(0, 8)]
    # 10 %: three cells, budget 17.6: cheap, dear, cheap = 12.
    assert [gi for gi, _ in sample_cells(p, 0.10)] == [0, 0, 1]
    assert len(sample_cells(p, 1.0)) == 32


def test_the_reference_runs_where_float64_is_fast():
    cpu = SimpleNamespace(platform="cpu", device_kind="cpu")
    h200 = SimpleNamespace(platform="gpu", device_kind="NVIDIA H200")
    rtx = SimpleNamespace(platform="gpu", device_kind="NVIDIA GeForce RTX 4090")
    tpu = SimpleNamespace(platform="tpu", device_kind="TPU v5 lite")
    assert reference_devices([cpu]) == [cpu] and reference_devices([h200, h200]) == [h200, h200]
    for slow in (rtx, tpu):
        assert reference_devices([slow])[0].platform == "cpu"


def test_an_audit_not_ok_is_recorded_printed_once_and_reported_on_top(tmp_path, capsys):
    res = toyscale.run(_bent_doc(precision="float32"), out=tmp_path / "bad", progress=False, audit=True)
    rec = json.loads((tmp_path / "bad" / "precision_audit.json").read_text())
    assert rec["reference"] == "float64" and rec["cells"] == 1 and rec["cells_total"] == 6
    # the one sampled cell (position 3 of 6: scale 2.0) is outside the check's slice (scale 1.0):
    # the audit falls back to the rows, whose loss differs by up to 64^SHIFT - 1
    assert [i["kind"] for i in rec["items"]] == ["rows"] and rec["ok"] is False
    assert rec["max_rel_diff"]["loss"] == pytest.approx(64 ** SHIFT - 1, rel=1e-5) and "loss" in rec["reason"]
    assert res.precision_audit == rec and rec["note"].startswith("precision float32 was requested below")
    err = [ln for ln in capsys.readouterr().err.splitlines() if "precision audit" in ln]
    assert len(err) == 1 and "NOT OK" in err[0]
    md = (tmp_path / "bad" / "report.md").read_text().splitlines()
    assert "NOT OK" in md[2]  # the first line after the title
    assert res.summary[0]["precision_audit"]["ok"] is False and res.summary[0]["precision_audit"]["moved"] is None


def test_roundoff_audit_of_a_covered_slice(tmp_path):
    # every cell sampled: the check's own slice is covered, its slope shift is exact
    from toyscale.audit import audit_run

    exp = experiment_from_dict(_bent_doc(precision="float32"))
    run_experiment(exp, tmp_path / "o", progress=False)
    rec = audit_run(exp, tmp_path / "o", fraction=1.0, quiet=True)
    (item,) = [i for i in rec["items"] if i["kind"] == "check"]
    assert item["shift"] == pytest.approx(SHIFT, abs=1e-6) and item["moved"] and not rec["ok"]
    assert rec["max_rel_diff"]["loss"] == pytest.approx(64 ** SHIFT - 1, rel=1e-5)
    # the report puts the check's shift beside its interval (float32 rows: slope -1 + SHIFT)
    res = toyscale.load(tmp_path / "o", report=True)
    pa = res.summary[0]["precision_audit"]
    assert res.summary[0]["fitted"] == pytest.approx(-1 + SHIFT, abs=1e-4)
    assert pa["moved"] is True and pa["shift"] == pytest.approx(SHIFT, abs=1e-6)
    assert pa["beyond_interval"] is True and pa["interval_half_width"] < SHIFT
    loose = experiment_from_dict(_bent_doc(precision="float32", checks=[{"axis": "width", "where": {"scale": 1.0},
                                                                          "tolerance": 0.5}]))
    rec = audit_run(loose, tmp_path / "o", fraction=1.0, quiet=True)
    assert rec["ok"] is True and "largest" in rec["reason"]


def test_a_float64_run_is_its_own_reference(tmp_path):
    res = toyscale.run(_bent_doc(), out=tmp_path / "o", progress=False, audit=True)
    rec = res.precision_audit
    assert rec["ok"] is True and rec["reference"] == "float64" and rec["cells"] == 0 and rec["max_rel_diff"] == {}
    assert audit_line(rec).startswith("Precision: float64")


def test_the_audit_is_on_by_default_and_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.delenv("TOYSCALE_AUDIT")  # the test suite's default (conftest) is off
    res = toyscale.run(_bent_doc(precision="float32"), out=tmp_path / "a", progress=False, audit=False)
    assert res.precision_audit is None and not (tmp_path / "a" / "precision_audit.json").exists()
    assert toyscale.run(_bent_doc(precision="float32"), out=tmp_path / "on", progress=False).precision_audit["cells"] == 1
    f = tmp_path / "e.toml"
    f.write_text('model = "_bent"\nprecision = "float32"\n[sweep]\nwidth = [4, 8, 16]\n')
    assert main(["run", str(f), "--out", str(tmp_path / "b"), "--no-audit", "--no-progress"]) == 0
    assert not (tmp_path / "b" / "precision_audit.json").exists()
    assert main(["run", str(f), "--out", str(tmp_path / "c"), "--no-progress"]) == 0
    assert (tmp_path / "c" / "precision_audit.json").exists()
    monkeypatch.setenv("TOYSCALE_AUDIT", "0")
    assert main(["run", str(f), "--out", str(tmp_path / "d"), "--no-progress"]) == 0
    assert not (tmp_path / "d" / "precision_audit.json").exists()


@pytest.mark.parametrize("bias,ok", [(0.0, True), (10.0, False)])
def test_trajectory_audit_compares_with_the_seed_spread(tmp_path, bias, ok):
    from toyscale.audit import audit_run

    doc = {"model": "_chaos", "seeds": 16, "params": {"bias": bias}, "sweep": {"width": [4, 8, 16, 32]},
           "checks": [{"axis": "width"}]}
    exp = experiment_from_dict(doc)
    assert exp.precision == "float32"
    run_experiment(exp, tmp_path / "o", progress=False)
    rec = audit_run(exp, tmp_path / "o", fraction=0.5, quiet=True)
    (item,) = rec["items"]
    assert rec["rule"] == "trajectory" and item["kind"] == "spread" and item["rows"] == 8 * 4
    assert rec["ok"] is ok
    if ok:  # another draw: |difference| / spread has median ~0.95 (two independent draws)
        assert 0.3 < item["shift"] < TRAJECTORY_Z
    else:
        assert item["shift"] > 5 and "seed spreads" in rec["reason"]


def _acceptance_doc(**kw):
    return {"model": "random_features", "seeds": 1,
            "params": {"alpha": 1.4, "beta": 0.8, "latent_dim": 4096, "learner": "sgd_expected",
                       "samples": math.inf, "batch_size": 1, "lr_scale": 0.5},
            "sweep": {"width": {"geom": [16, 256], "num": 7}, "steps": {"geom": [1, 20000], "num": 25}},
            "frontiers": [{"name": "frontier", "size": "width", "time": "steps"}], **kw}


@pytest.mark.parametrize("name", ["ticket_ensemble",  # the others compile for 30-60 s: slow
                                  pytest.param("random_features", marks=pytest.mark.slow),
                                  pytest.param("associative_memory", marks=pytest.mark.slow),
                                  pytest.param("lottery", marks=pytest.mark.slow),
                                  pytest.param("superposition", marks=pytest.mark.slow)])
def test_every_model_audits_its_example_in_float32(name, tmp_path):
    from toyscale.audit import audit_run

    m = toyscale.models.get_model(name)
    exp = experiment_from_dict({"model": name, **m.example, "precision": "float32"}, name=f"audit-{name}")
    run_experiment(exp, tmp_path / "o", progress=False)
    rec = audit_run(exp, tmp_path / "o", quiet=True)
    values = {n: list(exp.values(n)) for n in m.param_names}
    assert rec["reference"] == "float64" and rec["cells"] >= 1 and isinstance(rec["ok"], bool)
    assert rec["rule"] == m.audit_rule_for(values) or "rule_note" in rec
    if rec["rule"] == "roundoff":
        # the reference solves the same random problem (the float32 draws): only rounding differs
        assert rec["ok"] is True and max(v for v in rec["max_rel_diff"].values() if v is not None) < 1e-3
    assert rec["rows"] > 0 and set(rec["max_rel_diff"]) <= {mt.name for mt in m.metrics}
    assert json.loads((tmp_path / "o" / "precision_audit.json").read_text()) == json.loads(json.dumps(rec))


def test_float32_moves_the_eta_of_one_pass_sgd_at_large_widths_and_the_audit_says_so(tmp_path):
    # alpha 1.4, beta 0.8 (phase II, eta 0.773), one seed, on the same draws in both precisions:
    # widths 16..256 keep the IsoFLOP eta (0.692 / 0.697); widths to 2048 with steps to 1e5
    # (condition numbers ~N^2.8, beyond float32) move it, 0.485 against 0.720
    small = toyscale.run(_acceptance_doc(precision="float32"), out=tmp_path / "small", progress=False, audit=True)
    (eta,) = [i for i in small.precision_audit["items"] if i["quantity"] == "eta"]
    assert not eta["moved"] and abs(eta["float32"] - eta["float64"]) < 0.02 and small.precision_audit["ok"] is True
    big = _acceptance_doc(precision="float32")
    big["sweep"] = {"width": {"geom": [16, 2048], "num": 8}, "steps": {"geom": [1, 100000], "num": 30}}
    res = toyscale.run(big, out=tmp_path / "f32", progress=False, audit=True)
    rec = res.precision_audit
    assert rec["ok"] is False and "eta" in rec["reason"] and "frontier 'frontier'" in rec["reason"]
    (eta,) = [i for i in rec["items"] if i["quantity"] == "eta"]
    assert eta["moved"] and eta["float64"] == pytest.approx(0.72, abs=0.03) and eta["float32"] < 0.6
    assert res.frontiers[0]["precision_audit"]["moved"] is True
    assert "NOT OK" in (tmp_path / "f32" / "report.md").read_text().splitlines()[2]
    default = toyscale.run(_acceptance_doc(), out=tmp_path / "f64", progress=False, audit=True)
    assert default.precision_audit["ok"] is True and default.precision_audit["precision"] == "float64"


def test_the_audit_reference_draws_what_the_float32_run_drew():
    # JAX draws float32 and float64 normals from different bits; inside draws_in("float32") a
    # float64 program gets the float32 draws, cast; outside it every draw is as before
    import jax
    import jax.numpy as jnp

    from toyscale.models.base import draws_in, indexed_normal, uniform

    key = jax.random.key(3)
    f32 = np.asarray(indexed_normal(key, 5, (4,), jnp.float32))
    u32 = np.asarray(uniform(key, (7,), jnp.float32))
    with jax.enable_x64(True):
        plain = np.asarray(indexed_normal(key, 5, (4,), jnp.float64))
        assert np.array_equal(plain, np.asarray(jax.vmap(lambda i: jax.random.normal(
            jax.random.fold_in(key, i), (4,), jnp.float64))(jnp.arange(5))))
        assert np.abs(plain - f32).max() > 0.1  # unrelated numbers
        with draws_in("float32"):
            ref = indexed_normal(key, 5, (4,), jnp.float64)
            ru = uniform(key, (7,), jnp.float64)
        assert ref.dtype == jnp.float64 and np.array_equal(np.asarray(ref), f32.astype(np.float64))
        assert np.array_equal(np.asarray(ru), u32.astype(np.float64))
