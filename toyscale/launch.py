"""Launch one experiment as N shard jobs: a Slurm job array through submitit, or the same jobs
as local processes (submitit's local executor) where there is no Slurm.

Each job runs ``run_experiment(exp, out, part=(i, N))``: a fixed, disjoint share of the grid
(see :func:`toyscale.sweep.schedule`), written into the one output directory (immutable Parquet
chunks, per-process temporary names). A job killed or preempted is simply relaunched: it
computes only what it still owes. The job that finishes last finds every row stored and writes
the report; ``toyscale report DIR`` rewrites it at any time.

Why submitit (Meta's small Slurm client; optional extra ``toyscale[slurm]``): it pickles a
Python call, writes the ``sbatch`` array script, tracks the jobs and returns their results or
tracebacks, and its ``local`` executor runs the very same jobs as subprocesses, so the launcher
is tested without a cluster. A hand-written sbatch template would need its own job tracking.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from toyscale.errors import UserError


def shard_job(exp, out: str, i: int, n: int) -> dict:
    """One array task: compute shard ``i`` of ``n`` of ``exp`` into ``out``; report if last."""
    from toyscale.audit import run_audited

    s = run_audited(exp, out, progress=False, part=(i, n))
    if s.complete and not s.failed_chunks and (exp.checks or exp.phases or exp.frontiers):
        from toyscale.report import make_report

        make_report(out)
    return asdict(s)


def executor(folder: Path, *, cluster: str | None, timeout_min: int, partition: str | None,
             gpus_per_task: int, cpus_per_task: int | None, mem_gb: float | None, array_parallelism: int,
             slurm_args: dict | None = None):
    """A submitit executor: ``cluster`` ``"slurm"``, ``"local"`` or ``None`` (Slurm when
    ``sbatch`` is found, else local)."""
    try:
        import submitit
    except ImportError:
        raise UserError("launch", "submitit is not installed; allowed: pip install 'toyscale[slurm]'") from None
    ex = submitit.AutoExecutor(folder=folder, cluster=cluster)
    params = {"timeout_min": timeout_min, "name": "toyscale", "slurm_array_parallelism": array_parallelism}
    if gpus_per_task:
        params["gpus_per_node"] = gpus_per_task
    if cpus_per_task:
        params["cpus_per_task"] = cpus_per_task
    if mem_gb:
        params["mem_gb"] = mem_gb
    if partition:
        params["slurm_partition"] = partition
    for k, v in (slurm_args or {}).items():
        params[f"slurm_{k}"] = v
    if ex.cluster != "slurm":
        params = {k: v for k, v in params.items() if not k.startswith("slurm_")}
    ex.update_parameters(**params)
    return ex


def require_cluster(cluster: str | None) -> None:
    """Raise :class:`UserError` (before anything is written) when ``cluster`` cannot be used:
    submitit missing, or ``"slurm"`` asked for on a machine without ``sbatch``/``srun``."""
    import shutil

    try:
        import submitit  # noqa: F401
    except ImportError:
        raise UserError("launch", "submitit is not installed; allowed: pip install 'toyscale[slurm]'") from None
    if cluster == "slurm":
        missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None]
        if missing:
            raise UserError("--slurm", f"no Slurm on this machine ({' and '.join(missing)} not found on PATH); "
                                       "allowed: --local, or a machine with Slurm")


def launch(exp, out, *, array: int, cluster: str | None = None, wait: bool = True, timeout_min: int = 60,
           partition: str | None = None, gpus_per_task: int = 0, cpus_per_task: int | None = None,
           mem_gb: float | None = None, array_parallelism: int | None = None, slurm_args: dict | None = None):
    """Submit ``array`` shard jobs of ``exp`` writing into ``out``; return the submitit jobs
    (with ``wait``: after they finish, raising if one failed).

    The output directory is created (``experiment.json``) before submission, so the jobs start
    on a checked directory; submitit's logs go to ``out/launch/``. The precision is resolved for
    the jobs' platform (GPUs requested: float32 unless the experiment sets it).
    """
    from toyscale.sweep import resolve_precision

    require_cluster(cluster)
    exp = resolve_precision(exp, "gpu" if gpus_per_task else "cpu")
    from toyscale.store import ResultStore
    from toyscale.sweep import experiment_meta

    if not (isinstance(array, int) and array >= 1):
        raise UserError("--array", f"{array!r}; allowed: a positive number of jobs")
    out = Path(out)
    ResultStore(out).init(experiment_meta(exp))
    ex = executor(out / "launch", cluster=cluster, timeout_min=timeout_min, partition=partition,
                  gpus_per_task=gpus_per_task, cpus_per_task=cpus_per_task, mem_gb=mem_gb,
                  array_parallelism=array_parallelism or array, slurm_args=slurm_args)
    jobs = ex.map_array(shard_job, [exp] * array, [str(out)] * array, list(range(array)), [array] * array)
    print(f"toyscale: submitted {array} {ex.cluster} jobs ({jobs[0].job_id.split('_')[0]}); logs in {out / 'launch'}",
          file=sys.stderr)
    if wait:
        failed = []
        for i, j in enumerate(jobs):
            try:
                j.result()
            except Exception as e:  # one failed job must not hide the others
                failed.append(f"shard {i}/{array}: {type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}")
        if failed:
            raise RuntimeError("; ".join(failed) + f" (relaunch to finish; logs in {out / 'launch'})")
    return jobs
