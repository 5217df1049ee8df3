"""``toyscale fit FILE``: fit a scaling law to any CSV/Parquet table (not only toyscale's)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from toyscale.errors import UserError

EPILOG = """examples:
  # Chinchilla approach 3 on the points extracted from Hoffmann et al. (2022), Fig. 4
  # (tokens D = FLOP / (6 N)), dropping the 5 highest-loss points, Huber/L-BFGS-B multi-start:
  toyscale fit toyscale/data/chinchilla_svg_extracted.csv --law joint --n "Model Size" \\
      --flops "Training FLOP" --y loss --drop-highest 5 --method huber
  # the same law by variable projection with a 200-resample bootstrap:
  toyscale fit toyscale/data/chinchilla_svg_extracted.csv --law joint --n "Model Size" \\
      --flops "Training FLOP" --y loss --drop-highest 5 --method vp --boot 200
  # a power law with offset, bootstrap over a seed column:
  toyscale fit results.csv --x width --y loss --law offset --seed-col seed
"""


def add_parser(sub) -> None:
    import argparse

    p = sub.add_parser("fit", help="fit a scaling law to a CSV/Parquet table", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Fit a power law, a power law with offset, a broken power law, or the joint "
                                   "law L(N, D) = E + A N^-a + B D^-b to columns of a CSV or Parquet file.")
    p.add_argument("file", help="CSV or Parquet table")
    p.add_argument("--law", default="power", choices=["power", "offset", "broken", "joint"])
    p.add_argument("--x", help="axis column (power, offset, broken)")
    p.add_argument("--y", default="loss", help="response column (default: loss)")
    p.add_argument("--seed-col", help="column of seeds: bootstrap over seeds (power, offset)")
    p.add_argument("--n", help="model-size column (joint)")
    p.add_argument("--d", help="data-size column (joint)")
    p.add_argument("--flops", help="compute column; D = FLOP / (6 N) (joint, instead of --d)")
    p.add_argument("--drop-highest", type=int, default=0, metavar="K", help="drop the K rows with highest y")
    p.add_argument("--method", default="vp", choices=["vp", "huber"], help="joint-law estimator (default vp)")
    p.add_argument("--batched", action="store_true", help="huber: run the 4500 starts as one jitted batch")
    p.add_argument("--boot", type=int, default=0, help="bootstrap resamples for intervals (default: 1000 for "
                                                        "power/offset, 0 for joint)")
    p.add_argument("--breaks", type=int, default=1, help="number of breaks (broken)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def _load(path: str):
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise UserError(path, "no such file")
    try:
        return pd.read_parquet(p) if p.suffix in (".parquet", ".pq") else pd.read_csv(p)
    except Exception as e:  # noqa: BLE001 - any parse error is the user's file
        raise UserError(path, f"cannot read as {'Parquet' if p.suffix in ('.parquet', '.pq') else 'CSV'}: {e}") from None


def _col(df, name, flag):
    if not name:
        raise UserError(flag, f"required for this law; allowed: one of the columns {list(df.columns)}")
    if name not in df.columns:
        raise UserError(flag, f"no column {name!r}; allowed: {list(df.columns)}")
    v = np.asarray(df[name], float)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise UserError(flag, f"column {name!r} must be finite and positive for a log-log fit")
    return v


def run(args) -> int:
    from toyscale import fit as F

    df = _load(args.file)
    y_col = args.y
    _col(df, y_col, "--y")
    if args.drop_highest:
        df = df.sort_values(y_col).iloc[: len(df) - args.drop_highest]
    y = _col(df, y_col, "--y")
    out: dict = {"law": args.law, "n_points": len(df)}
    if args.law == "joint":
        N = _col(df, args.n, "--n")
        if args.flops:
            D = _col(df, args.flops, "--flops") / (6 * N)
        else:
            D = _col(df, args.d, "--d")
        if args.method == "huber":
            import jax

            jax.config.update("jax_enable_x64", True)
            fitter = lambda n, d, l: F.fit_joint(n, d, l, method="huber", batched=args.batched)  # noqa: E731
        else:
            fitter = F.fit_joint_vp
        res = F.bootstrap_joint(fitter, N, D, y, n_boot=args.boot) if args.boot else fitter(N, D, y)
        out.update(method=args.method, params=res.as_dict(), ci=res.ci, objective=res.objective)
    elif args.law == "broken":
        x = _col(df, args.x, "--x")
        res = F.fit_broken_power_law(x, y, n_breaks=args.breaks)
        out.update(params={"c": res.c, "b": res.b, "c0": res.c0, "breaks": res.breaks}, slopes=res.slopes)
    else:
        x = _col(df, args.x, "--x")
        if args.seed_col:
            if args.seed_col not in df.columns:
                raise UserError("--seed-col", f"no column {args.seed_col!r}; allowed: {list(df.columns)}")
            table = df.pivot_table(index=args.x, columns=args.seed_col, values=y_col)
            xs, Y = table.index.to_numpy(float), table.to_numpy(float)
        else:
            xs, Y = x, y[:, None]
        res = F.fit_scaling(xs, Y, law=args.law, n_boot=args.boot or 1000)
        out.update(slope=res.slope, ci=[res.ci_low, res.ci_high], params=res.params, bootstrap=res.resampled,
                   **F.heldout_error(xs, np.nanmean(Y, 1), law=args.law), **F.range_sensitivity(xs, np.nanmean(Y, 1), law=args.law))
    if args.json:
        print(json.dumps(out, indent=2, default=float))
    else:
        _print(out)
    return 0


def _print(out: dict) -> None:
    print(f"law: {out['law']}" + (f" ({out['method']})" if "method" in out else "") + f", {out['n_points']} points")
    ci = out.get("ci") or {}
    if "slope" in out:
        print(f"  slope = {out['slope']:+.4f}  95% CI [{out['ci'][0]:+.4f}, {out['ci'][1]:+.4f}] ({out['bootstrap']} bootstrap)")
        if out.get("heldout_rel_error") is not None:
            print(f"  held-out error at x = {out['heldout_x']}: {out['heldout_rel_error']:.2%}")
        if out.get("range_sensitive") is not None:
            print(f"  lower/upper-half slopes {out['slope_lower']:+.3f} / {out['slope_upper']:+.3f}"
                  f"{'  (RANGE-SENSITIVE)' if out['range_sensitive'] else ''}")
    for k, v in out.get("params", {}).items():
        if isinstance(v, (int, float)):
            extra = f"  95% CI [{ci[k][0]:.4g}, {ci[k][1]:.4g}]" if isinstance(ci, dict) and k in ci else ""
            print(f"  {k} = {v:.4g}{extra}")
        else:
            print(f"  {k} = {v}")
    if "slopes" in out:
        print("  segment slopes: " + ", ".join(f"{s:+.3f}" for s in out["slopes"]))
    if "objective" in out and math.isfinite(out["objective"]):
        print(f"  objective = {out['objective']:.6g}")
