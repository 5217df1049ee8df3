"""Run every model benchmark and write ``benchmarks/RESULTS.md`` (one command).

RESULTS.md holds one section per device (``## Device: cpu: cpu x 1``, ``## Device: gpu: NVIDIA
H200 x 1``): a run replaces the section of the device it ran on and keeps the others and the
hand-written notes.

    python benchmarks/run_all.py                 # full settings, writes benchmarks/RESULTS.md
    python benchmarks/run_all.py --quick         # small settings (smoke test), same table
    python benchmarks/run_all.py --only ridge    # benchmarks whose file name contains "ridge"

What it measures, in this one run, on this machine:

* the **matmul peak**: median time of a jitted ``n x n`` matrix product (float64 and float32)
  on JAX's default device, ``2 n^3 / t`` FLOP/s;
* per model benchmark: toyscale's time vs a one-configuration-at-a-time loop in the same
  process (ratio), compile time, achieved FLOP/s of the toyscale run as a fraction of the
  measured peak of its precision, and the cost as the grid grows (1x, 2x, 4x, 8x configurations);
* memory: peak RSS of a 100 000-configuration ridge sweep (target: under 4 GiB on the CPU).

**Plug-in interface.** Every ``benchmarks/bench_*.py`` that defines ::

    def benchmark(quick: bool = False) -> dict

is run, each in its own subprocess (a benchmark may switch JAX's global 64-bit mode). It returns
one dict (one table row) or a list of them (several rows, each with a ``part`` label). The dict:

==============  ==========================================================================
``model``       model name (or what is benchmarked)
``what``        one line: the setting (grid, sizes, seeds, precision)
``toyscale_s``  median seconds of the toyscale path, compilation excluded
``loop_s``      median seconds of the one-configuration-at-a-time baseline (same process)
``compile_s``   seconds spent compiling the toyscale path (``None``: not measured)
``flops``       floating-point operations the toyscale path executes (``None``: not counted)
``precision``   ``"float64"`` or ``"float32"`` (which peak ``flops`` is held against)
``growth``      ``{1: s, 2: s, 4: s, 8: s}``: toyscale seconds at 1x .. 8x configurations
``check``       one line: the correctness check against the baseline (e.g. max rel. diff)
``extra``       optional markdown appended under the table (e.g. compile time vs grid size)
==============  ==========================================================================

A file without ``benchmark`` is listed as not run (run it directly). The machine is shared
with other work: RESULTS.md records the load average beside the numbers.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

MEMORY_SWEEP = """
import json, resource, sys, tempfile, time
import toyscale
from toyscale.experiment import experiment_from_dict
from toyscale.store import ResultStore
from toyscale.sweep import run_experiment
seeds = int(sys.argv[1])
doc = {"model": "random_features", "seeds": seeds, "precision": "float64",
       "params": {"latent_dim": 128, "ridge": 1e-3},
       "sweep": {"width": [4, 6, 8, 12, 16, 24, 32, 48, 64, 96], "samples": [4, 6, 8, 12, 16, 24, 32, 48, 64, 128]}}
exp = experiment_from_dict(doc, name="memory")
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as d:
    s = run_experiment(exp, d, progress=False)
    n = len(ResultStore(d).load())
print(json.dumps({"configs": exp.n_configs, "rows": n, "seconds": time.perf_counter() - t0,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def matmul_peak(n: int = 2048, repeats: int = 7) -> dict:
    """Measured matmul FLOP/s on JAX's default device, float64 and float32 (median of repeats)."""
    import jax
    import jax.numpy as jnp

    out = {}
    for prec in ("float64", "float32"):
        with jax.enable_x64(prec == "float64"):
            a = jax.random.normal(jax.random.key(0), (n, n), dtype=prec)
            f = jax.jit(lambda x: x @ x)
            f(a).block_until_ready()
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                f(a).block_until_ready()
                ts.append(time.perf_counter() - t0)
            out[prec] = 2 * n**3 / statistics.median(ts)
    out["device"] = f"{jax.default_backend()}: {jax.devices()[0].device_kind} x {len(jax.local_devices())}"
    return out


def discover(only: str | None = None) -> list[Path]:
    return sorted(p for p in HERE.glob("bench_*.py") if only is None or only in p.stem)


def has_interface(path: Path) -> bool:
    return "\ndef benchmark(" in path.read_text()


def run_one(path: Path, quick: bool) -> dict:
    """Import ``path`` in this process and call its ``benchmark(quick)``."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.benchmark(quick=quick)


def _fmt_s(x):
    return "—" if x is None else (f"{x:.3g} s" if x < 100 else f"{x:.0f} s")


def write_results(peak: dict, results: dict, memory: dict | None, args, seconds: float) -> str:
    load = os.getloadavg()
    lines = [
        f"{DEVICE_HEADING}{peak['device']}",
        "",
        f"Written by `python benchmarks/run_all.py{' --quick' if args.quick else ''}` on "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds:.0f} s.",
        f"Device: {peak['device']}; host: {platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}.",
        (f"**The machine was shared with other work during this run**: load average {load[0]:.1f} / "
         if load[2] > 1.5 * (os.cpu_count() or 1) else f"Load average during the run {load[0]:.1f} / ")
        + f"{load[1]:.1f} / {load[2]:.1f} over 1 / 5 / 15 min on {os.cpu_count()} CPUs: absolute times are "
        "noisy; the ratios are measured in the same process, minutes apart at most.",
        "",
        f"Measured matmul peak (jitted 2048 × 2048 product, median of 7): float64 "
        f"**{peak['float64'] / 1e9:.1f} GFLOP/s**, float32 **{peak['float32'] / 1e9:.1f} GFLOP/s**.",
        "",
        "| benchmark | model | toyscale | one-config loop | ratio | compile | achieved FLOP/s (of peak) | "
        "growth 1× / 2× / 4× / 8× configs | check |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    extras = []
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| `{name}` | — | failed: {r['error']} | | | | | | |")
            continue
        if r.get("skipped"):
            lines.append(f"| `{name}` | — | {r['skipped']} | | | | | | |")
            continue
        ratio = r["loop_s"] / r["toyscale_s"] if r.get("loop_s") and r.get("toyscale_s") else None
        fl = "—"
        if r.get("flops") and r.get("toyscale_s"):
            rate = r["flops"] / r["toyscale_s"]
            fl = f"{rate / 1e9:.2f} GFLOP/s ({100 * rate / peak[r.get('precision', 'float64')]:.0f} % of {r.get('precision', 'float64')})"
        g = r.get("growth") or {}
        growth = " / ".join(_fmt_s(g.get(k, g.get(str(k)))) for k in (1, 2, 4, 8)) if g else "—"
        lines.append(f"| `{name}` | {r['model']} | {_fmt_s(r.get('toyscale_s'))} | {_fmt_s(r.get('loop_s'))} | "
                     f"{'—' if ratio is None else f'**{ratio:.2f}×**'} | {_fmt_s(r.get('compile_s'))} | {fl} | {growth} | "
                     f"{r.get('check', '')} |")
        extras.append(f"**`{name}`**: {r['what']}")
        if r.get("extra"):
            extras.append(r["extra"])
    lines += ["", "Settings and notes:", ""]
    for e in extras:
        lines += [e, ""]
    if memory is not None:
        if "error" in memory:
            lines += [f"Memory: the 100 000-configuration ridge sweep failed: {memory['error']}", ""]
        else:
            ok = memory["peak_rss_mib"] < 4096
            lines += [f"Memory: a {memory['configs']:,}-configuration ridge sweep (10 widths × 10 sample sizes ≤ 128, "
                      f"latent_dim 128, ridge 1e-3, float64, {memory['configs'] // 100:,} seeds; {memory['rows']:,} rows stored) "
                      f"peaked at **{memory['peak_rss_mib']:.0f} MiB** resident ({'under' if ok else 'OVER'} the 4 GiB target), "
                      f"{memory['seconds']:.0f} s.", ""]
    lines += ["Commands: `python benchmarks/run_all.py` (this file); each benchmark also runs alone, "
              "e.g. `python benchmarks/bench_ridge.py`. Benchmarks are discovered as `benchmarks/bench_*.py` "
              "defining `benchmark(quick)` (interface in `benchmarks/run_all.py`)."]
    return "\n".join(lines) + "\n"


#: Heading of the section of RESULTS.md written by hand; a rerun keeps it verbatim.
HAND_NOTES = "## Notes added by hand (not regenerated by run_all.py)"
#: Title of RESULTS.md and the heading of one device's section (``## Device: gpu: NVIDIA H200 x 1``).
TITLE = "# Benchmark results"
DEVICE_HEADING = "## Device: "


def merge_results(old: str, section: str) -> str:
    """RESULTS.md with this run's device ``section`` in place of that device's previous one.

    Sections of other devices (a GPU run and a CPU run live side by side) and the hand-written
    notes (:data:`HAND_NOTES`, kept verbatim at the end) are kept. A file from before device
    sections (a table directly under the title) becomes the section of the device it names.
    """
    notes = ""
    if HAND_NOTES in old:
        old, notes = old[: old.index(HAND_NOTES)], old[old.index(HAND_NOTES):]
    body = old.split(TITLE, 1)[-1].strip("\n")
    if body and not body.startswith(DEVICE_HEADING):  # the single-table layout: name its device
        dev = next((ln[len("Device: "):].split(";")[0] for ln in body.splitlines() if ln.startswith("Device: ")), "unknown")
        body = f"{DEVICE_HEADING}{dev}\n\n{body}"
    sections = {}
    for chunk in body.split("\n" + DEVICE_HEADING):
        chunk = chunk.strip("\n")
        if chunk:
            chunk = chunk if chunk.startswith(DEVICE_HEADING) else DEVICE_HEADING + chunk
            sections[chunk.splitlines()[0]] = chunk
    new = section.strip("\n")
    sections[new.splitlines()[0]] = new
    text = TITLE + "\n\n" + "\n\n".join(sections.values()) + "\n"
    return text + ("\n" + notes.rstrip("\n") + "\n" if notes else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small settings (smoke test)")
    ap.add_argument("--only", help="run the benchmarks whose file name contains this")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"), help="where to write the table")
    ap.add_argument("--no-memory", action="store_true", help="skip the 100 000-configuration memory run")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one file, print its JSON
    args = ap.parse_args(argv)
    env = dict(os.environ, TOYSCALE_COMPILATION_CACHE="0", TOYSCALE_NO_PROGRESS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    if args.one:
        os.environ.update(TOYSCALE_COMPILATION_CACHE="0")  # compile times are what is measured
        print("RESULT " + json.dumps(run_one(Path(args.one), args.quick)))
        return 0
    import toyscale  # noqa: F401  (XLA flags before JAX starts)

    t0 = time.perf_counter()
    peak = matmul_peak()
    print(f"matmul peak: float64 {peak['float64'] / 1e9:.1f} GFLOP/s, float32 {peak['float32'] / 1e9:.1f} GFLOP/s "
          f"({peak['device']})", flush=True)
    results = {}
    for path in discover(args.only):
        if not has_interface(path):
            results[path.name] = {"skipped": "no `benchmark(quick)` (run it directly)"}
            continue
        print(f"running {path.name} ...", flush=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(path)] + (["--quick"] if args.quick else [])
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        out = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")]
        if res.returncode or not out:
            results[path.name] = {"error": (res.stderr.strip().splitlines() or ["?"])[-1][:200]}
        else:
            got = json.loads(out[-1][7:])
            rows = got if isinstance(got, list) else [got]  # a benchmark may give several table rows
            for i, r in enumerate(rows):
                results[path.name if len(rows) == 1 else f"{path.name} ({r.get('part', i)})"] = r
        print(f"  {out[-1][7:407] if out else results[path.name]}", flush=True)
    memory = None
    if not args.no_memory:
        seeds = 10 if args.quick else 1000
        res = subprocess.run([sys.executable, "-c", MEMORY_SWEEP, str(seeds)], capture_output=True, text=True, env=env)
        memory = json.loads(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 else \
            {"error": (res.stderr.strip().splitlines() or ["?"])[-1][:200]}
        print(f"memory: {memory}", flush=True)
    text = write_results(peak, results, memory, args, time.perf_counter() - t0)
    out = Path(args.out)
    # one section per device (this run replaces its device's section); hand notes kept
    out.write_text(merge_results(out.read_text() if out.exists() else "", text))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
