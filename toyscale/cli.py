"""Command line: ``toyscale run | launch | report | list | fit | export | compare``.

User errors (bad experiment file, unknown parameter, out-of-range value, unwritable output
directory) exit with status 2 and one line ``toyscale: FIELD: problem; allowed: ...`` before any
compute and without writing anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toyscale.errors import UserError


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="toyscale",
        description="Sweep solvable toy models of neural scaling laws, fit the power laws that come out, "
                    "and compare them with the exponents theory predicts.",
        epilog="Example: toyscale run experiments/quickstart.toml --out out/quickstart")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")

    r = sub.add_parser("run", help="run (or resume) an experiment file, then write the report",
                       description="Run an experiment file. Re-running on the same --out directory skips "
                                   "finished chunks, so an interrupted run resumes without losing or duplicating rows.")
    r.add_argument("experiment", help="experiment TOML file (see README: experiment-file format)")
    r.add_argument("--out", help="output directory (default: out/EXPERIMENT_NAME[-quick])")
    r.add_argument("--quick", action="store_true", help="use the file's [quick] overrides: a smaller, faster sweep")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value, e.g. --set params.alpha=0.8 --set seeds=4 (repeatable)")
    r.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    r.add_argument("--no-report", action="store_true", help="only compute and store rows")
    r.add_argument("--no-audit", action="store_true",
                   help="skip the precision audit (a float32 run re-evaluates cells worth ~4%% of its cost in float64; "
                        "docs/precision.md)")
    r.add_argument("--shard", metavar="I/N", default=None,
                   help="compute process I's fixed share of N (0 <= I < N); start N processes on one --out "
                        "directory (any machines); the one that finishes last writes the report")

    la = sub.add_parser("launch", help="run an experiment as N shard jobs: a Slurm job array (submitit) or local processes",
                        description="Submit --array N jobs, job I computing shard I/N into one --out directory "
                                    "(see `run --shard`). With Slurm (sbatch found, or --slurm) a job array; "
                                    "otherwise, or with --local, N local processes. Needs pip install 'toyscale[slurm]'.")
    la.add_argument("experiment", help="experiment TOML file")
    la.add_argument("--out", help="output directory (default: out/EXPERIMENT_NAME[-quick])")
    la.add_argument("--quick", action="store_true", help="use the file's [quick] overrides")
    la.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a value (repeatable)")
    la.add_argument("--array", type=int, default=1, metavar="N", help="number of shard jobs (default 1)")
    where = la.add_mutually_exclusive_group()
    where.add_argument("--slurm", action="store_true", help="submit to Slurm (error if sbatch is missing)")
    where.add_argument("--local", action="store_true", help="run the jobs as local processes")
    la.add_argument("--partition", help="Slurm partition")
    la.add_argument("--time", type=int, default=60, metavar="MIN", help="time limit per job in minutes (default 60)")
    la.add_argument("--gpus-per-task", type=int, default=0, help="GPUs per job (a job uses all its GPUs)")
    la.add_argument("--cpus-per-task", type=int, default=None, help="CPUs per job")
    la.add_argument("--mem-gb", type=float, default=None, help="memory per job (GB)")
    la.add_argument("--parallelism", type=int, default=None, help="most jobs of the array running at once")
    la.add_argument("--slurm-arg", action="append", default=[], metavar="KEY=VALUE",
                    help="any other sbatch option, e.g. --slurm-arg account=myproj --slurm-arg qos=low (repeatable)")
    la.add_argument("--no-wait", action="store_true", help="return after submission (the last job writes the report)")

    rp = sub.add_parser("report", help="regenerate summary.json, report.md and figures from stored results")
    rp.add_argument("dir", help="output directory of a run")
    rp.add_argument("--figures", help="write the check figures here instead of DIR/figures")

    ls = sub.add_parser("list", help="list models, or one model's parameters and metrics")
    ls.add_argument("model", nargs="?", help="model name")

    from toyscale.fit import cli as fit_cli

    fit_cli.add_parser(sub)
    from toyscale import compare, export

    export.add_parser(sub)
    compare.add_parser(sub)
    return ap


def _cmd_list(args) -> int:
    from toyscale.models import describe

    print(describe(args.model))
    return 0


def _cmd_run(args) -> int:
    from toyscale.api import prepare, run

    exp, out, part = prepare(args.experiment, args.out, quick=args.quick, set=args.set, shard=args.shard,
                             fields=("experiment", "--out", "--shard"))
    share = f" (shard {part[0]}/{part[1]})" if part[1] > 1 else ""
    print(f"toyscale: {exp.name}: model {exp.model}, {exp.n_configs} configurations{share} -> {out}", file=sys.stderr)
    s = run(exp, out, progress=not args.no_progress, report=False, shard=part,
            audit=False if args.no_audit else None).run
    print(f"toyscale: {summary_line(s)}", file=sys.stderr)
    if s.failed_chunks:
        print(f"toyscale: {len(s.failed_chunks)} chunks failed; rerun the same command to retry them", file=sys.stderr)
    if not s.complete:
        print(f"toyscale: other shards still running or missing; the last shard to finish writes the report "
              f"(or: toyscale report {out})", file=sys.stderr)
    elif not args.no_report and (exp.checks or exp.phases or exp.frontiers) and s.computed + s.skipped > 0:
        _report(out)
    return 1 if s.failed_chunks else 0


def _cmd_launch(args) -> int:
    from toyscale.api import output_dir
    from toyscale.experiment import load_experiment
    from toyscale.launch import launch, require_cluster
    from toyscale.sweep import resolve_precision

    # the precision is the model's declaration (or the file's) on every platform
    exp = resolve_precision(load_experiment(args.experiment, quick=args.quick, overrides=args.set),
                            "gpu" if args.gpus_per_task else "cpu")
    out = output_dir(exp, args.out, args.quick)
    extra = {}
    for kv in args.slurm_arg:
        if "=" not in kv:
            raise UserError("--slurm-arg", f"{kv!r}; allowed: KEY=VALUE, e.g. account=myproj")
        k, v = kv.split("=", 1)
        extra[k.strip().replace("-", "_")] = v
    if args.array < 1:
        raise UserError("--array", f"{args.array}; allowed: a positive number of jobs")
    cluster = "slurm" if args.slurm else ("local" if args.local else None)
    require_cluster(cluster)  # no Slurm / no submitit: one line, before anything is printed or written
    print(f"toyscale: {exp.name}: model {exp.model}, {exp.n_configs} configurations in {args.array} jobs -> {out}",
          file=sys.stderr)
    try:
        launch(exp, out, array=args.array, cluster=cluster, wait=not args.no_wait, timeout_min=args.time,
               partition=args.partition, gpus_per_task=args.gpus_per_task, cpus_per_task=args.cpus_per_task,
               mem_gb=args.mem_gb, array_parallelism=args.parallelism, slurm_args=extra)
    except RuntimeError as e:
        print(f"toyscale: {e}", file=sys.stderr)
        return 1
    if not args.no_wait and (exp.checks or exp.phases or exp.frontiers):
        _report(out)
    return 0


def summary_line(s) -> str:
    """One line of a run summary: rows, compilations, devices, seconds, statuses."""
    return (f"computed {s.computed} rows, {s.skipped} already stored, {s.compiles} compilations, "
            f"{s.devices} {s.platform} device{'s' if s.devices > 1 else ''}, {s.precision}, {s.seconds:.1f} s; status {s.statuses or {}}")


def _report(out, figures=None) -> None:
    from toyscale.report import frontier_table, make_report, table

    rep = make_report(out, figures=figures)
    from toyscale.provenance import lines

    for name, rec in rep.records.items():
        if isinstance(rec, dict) and rec.get("ok") is False:
            print(f"toyscale: {name}: not ok: {rec.get('reason', '')}", file=sys.stderr)
    if "provenance" in rep.records:
        for line in lines(rep.records["provenance"]):
            print(f"toyscale: made by {line}", file=sys.stderr)
    if rep.checks:
        print(table(rep.checks))
    for e in rep.checks:
        if e.get("reason") and e.get("fitted") is None:
            print(f"{e['name']}: not fitted: {e['reason']}")
    for ph in rep.phases:
        print(f"phase diagram {ph['name']}: {len(ph['cells'])} cells -> {ph['figure']}")
    if rep.frontiers:
        single = [f for f in rep.frontiers if not f.get("over")]
        if single:
            print(frontier_table(single))
        for f in rep.frontiers:
            if f.get("over"):
                print(f"frontier map {f['name']}: eta, xi over {' x '.join(f['over'])} -> {f['figure']}")
            if f.get("reason"):
                print(f"{f['name']}: not measured: {f['reason']}")
    written = [str(Path(out) / "summary.json"), str(Path(out) / "report.md")]
    where = f"; {len(rep.figures)} figures in {figures or Path(out) / 'figures'}" if rep.figures else "; no figures"
    print(f"\nwrote {', '.join(written)}{where}")


def main(argv=None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    try:
        if args.cmd == "list":
            return _cmd_list(args)
        if args.cmd == "run":
            return _cmd_run(args)
        if args.cmd == "launch":
            return _cmd_launch(args)
        if args.cmd == "report":
            _report(args.dir, args.figures)
            return 0
        if args.cmd in ("fit", "export", "compare"):
            return args.func(args)
        ap.print_help()
        return 2
    except UserError as e:
        print(f"toyscale: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("toyscale: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `toyscale ... | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
