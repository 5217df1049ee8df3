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
  # the same law by variable projection (95% intervals from a 200-resample bootstrap, the default):
  toyscale fit toyscale/data/chinchilla_svg_extracted.csv --law joint --n "Model Size" \\
      --flops "Training FLOP" --y loss --drop-highest 5 --method vp
  # a power law with offset, bootstrap over a seed column:
  toyscale fit results.csv --x width --y loss --law offset --seed-col seed
"""


LAWS = ("power", "offset", "broken", "joint")
#: Default bootstrap resamples of the joint law: refits start from the full-data estimate
#: (about 4 ms each for variable projection), so 200 cost about a second.
JOINT_BOOT = 200
METHODS = ("vp", "huber")


def _int_or_raw(text: str):
    """argparse type: an int, or the raw text (``run`` rejects it with a one-line user error)."""
    try:
        return int(text)
    except ValueError:
        return text


def _error(parser, message):
    """One-line argparse errors (missing FILE, unknown option), status 2, like every user error."""
    import sys

    print(f"toyscale: fit: {message}; allowed: see `toyscale fit --help`", file=sys.stderr)
    raise SystemExit(2)


def add_parser(sub) -> None:
    import argparse

    p = sub.add_parser("fit", help="fit a scaling law to a CSV/Parquet table", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Fit a power law, a power law with offset, a broken power law, or the joint "
                                   "law L(N, D) = E + A N^-a + B D^-b to columns of a CSV or Parquet file.")
    p.error = lambda message: _error(p, message)
    parse_known = p.parse_known_args

    def strict_parse(args=None, namespace=None):  # unknown options: one line from here, not two from the top
        ns, extra = parse_known(args, namespace)
        if extra:
            _error(p, f"unrecognized arguments: {' '.join(extra)}")
        return ns, extra

    p.parse_known_args = strict_parse
    p.add_argument("file", help="CSV or Parquet table")
    p.add_argument("--law", default="power", metavar="{" + ",".join(LAWS) + "}",
                   help="y = A x^s (power), y = E + A x^s (offset), smoothly broken power law (broken), "
                        "L = E + A N^-a + B D^-b (joint) (default: power)")
    p.add_argument("--x", help="axis column (power, offset, broken; required for them)")
    p.add_argument("--y", default="loss", help="response column (default: loss)")
    p.add_argument("--seed-col", help="column of seeds: bootstrap over seeds (power, offset; default: "
                                      "bootstrap over points)")
    p.add_argument("--n", help="model-size column (joint; required for it)")
    p.add_argument("--d", help="data-size column (joint; or --flops)")
    p.add_argument("--flops", help="compute column; D = FLOP / (6 N) (joint, instead of --d)")
    p.add_argument("--drop-highest", type=_int_or_raw, default=0, metavar="K",
                   help="drop the K rows with highest y (default: 0)")
    p.add_argument("--method", default="vp", metavar="{" + ",".join(METHODS) + "}",
                   help="joint-law estimator: variable projection or Huber/L-BFGS-B multi-start (default: vp)")
    p.add_argument("--batched", action="store_true",
                   help="huber: run the 4500 starts as one jitted batch (default: off)")
    p.add_argument("--boot", type=_int_or_raw, default=None, metavar="B",
                   help="bootstrap resamples for intervals (default: 1000 for power/offset, 200 for joint; 0: none)")
    p.add_argument("--breaks", type=_int_or_raw, default=1, help="number of breaks of --law broken (default: 1)")
    p.add_argument("--json", action="store_true", help="print the result as JSON (default: text)")
    p.set_defaults(func=run)


def _load(path: str):
    import pandas as pd

    p = Path(path)
    kind = "Parquet" if p.suffix in (".parquet", ".pq") else "CSV"
    if not p.is_file():
        raise UserError("FILE", f"no such file {path!r}; allowed: a readable CSV or Parquet file")
    try:
        df = pd.read_parquet(p) if kind == "Parquet" else pd.read_csv(p)
    except Exception as e:  # noqa: BLE001 - any parse error is the user's file
        msg = " ".join(str(e).split())  # one line
        raise UserError("FILE", f"cannot read {path!r} as {kind}: {msg}; allowed: a {kind} table with a "
                                "header row") from None
    if len(df.columns) == 0 or len(df) == 0:
        raise UserError("FILE", f"{path!r} has no rows; allowed: a table with a header row and data rows")
    return df


def _col(df, name, flag):
    if not name:
        raise UserError(flag, f"required for this law; allowed: one of the columns {list(df.columns)}")
    if name not in df.columns:
        raise UserError(flag, f"no column {name!r}; allowed: {list(df.columns)}")
    try:
        v = np.asarray(df[name], float)
    except (TypeError, ValueError):
        raise UserError(flag, f"column {name!r} is not numeric; allowed: a numeric column of "
                              f"{list(df.columns)}") from None
    bad = ~np.isfinite(v) | (v <= 0)
    if bad.any():
        raise UserError(flag, f"column {name!r} has {int(bad.sum())} non-positive or missing values "
                              f"(first: {float(v[int(np.argmax(bad))])}); allowed: finite values > 0 "
                              "(the fit is in log-log space)")
    return v


def _int_flag(value, flag, lo, hi=None):
    allowed = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
    if not isinstance(value, int):
        raise UserError(flag, f"{value!r} is not an integer; allowed: {allowed}")
    if value < lo or (hi is not None and value > hi):
        raise UserError(flag, f"{value} is out of range; allowed: {allowed}")
    return value


def _check_args(args, n_rows):
    """Validate the flags that do not need the columns (before any compute)."""
    if args.law not in LAWS:
        raise UserError("--law", f"unknown law {args.law!r}; allowed: {', '.join(LAWS)}")
    if args.method not in METHODS:
        raise UserError("--method", f"unknown method {args.method!r}; allowed: {', '.join(METHODS)}")
    if args.boot is not None:
        _int_flag(args.boot, "--boot", 0)
        if args.law == "broken" and args.boot:
            raise UserError("--boot", "no bootstrap for --law broken; allowed: --boot with power, offset, joint")
    _int_flag(args.breaks, "--breaks", 1)
    _int_flag(args.drop_highest, "--drop-highest", 0)
    if n_rows - args.drop_highest < 3:
        raise UserError("--drop-highest", f"{args.drop_highest} would leave {n_rows - args.drop_highest} of "
                                          f"{n_rows} rows; allowed: an integer in [0, {max(n_rows - 3, 0)}]")


def _distinct(v, flag, name, need, what):
    k = len(np.unique(v))
    if k < need:
        raise UserError(flag, f"column {name!r} has {k} distinct values; allowed: at least {need} ({what})")


def run(args) -> int:
    from toyscale import fit as F

    df = _load(args.file)
    _check_args(args, len(df))
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
        _distinct(N, "--n", args.n, 3, "model sizes, for the N exponent")
        _distinct(D, "--flops" if args.flops else "--d", args.flops or args.d, 3, "data sizes, for the D exponent")
        if len(y) < 6:
            raise UserError("FILE", f"{len(y)} rows; allowed: at least 6 rows for the 5-parameter joint law")
        if args.method == "huber":
            # SciPy path is NumPy float64; the batched path runs under its own scoped jax.enable_x64
            fitter = lambda n, d, l: F.fit_joint(n, d, l, method="huber", batched=args.batched)  # noqa: E731
        else:
            fitter = F.fit_joint_vp
        boot = JOINT_BOOT if args.boot is None else args.boot
        res = F.bootstrap_joint(fitter, N, D, y, n_boot=boot) if boot else fitter(N, D, y)
        out.update(method=args.method, params=res.as_dict(), ci=res.ci, objective=res.objective, n_boot=boot,
                   interval=res.interval)
    elif args.law == "broken":
        x = _col(df, args.x, "--x")
        need = 3 * args.breaks + 3  # (b, c0) + 3 per break, and at least one residual dof
        _distinct(x, "--x", args.x, need, f"{3 * args.breaks + 2} parameters for --breaks {args.breaks}, plus one")
        res = F.fit_broken_power_law(x, y, n_breaks=args.breaks)
        out.update(params={"c": res.c, "b": res.b, "c0": res.c0, "breaks": res.breaks}, slopes=res.slopes,
                   breaks=broken_legend(res), form=BROKEN_FORM)
    else:
        x = _col(df, args.x, "--x")
        _distinct(x, "--x", args.x, 3, f"for the {'2' if args.law == 'power' else '3'}-parameter {args.law} law")
        if args.seed_col:
            if args.seed_col not in df.columns:
                raise UserError("--seed-col", f"no column {args.seed_col!r}; allowed: {list(df.columns)}")
            table = df.pivot_table(index=args.x, columns=args.seed_col, values=y_col)
            xs, Y = table.index.to_numpy(float), table.to_numpy(float)
        else:
            xs, Y = x, y[:, None]
        res = F.fit_scaling(xs, Y, law=args.law, n_boot=1000 if args.boot is None else args.boot)
        ymean = np.nanmean(Y, 1)
        out.update(slope=res.slope, ci=[res.ci_low, res.ci_high],
                   params=res.params, params_ci={k: list(v) for k, v in res.params_ci.items()},
                   bootstrap=res.resampled, n_boot=res.n_boot, n_boot_at_bound=res.n_boot_at_bound,
                   ci_determined=_ci_determined(res), n_x=len(np.unique(xs)),
                   **F.heldout_error(xs, ymean, law=args.law), **F.range_sensitivity(xs, ymean, law=args.law))
    if args.json:
        print(json.dumps(_finite(out), indent=2))
    else:
        _print(out)
    return 0


BROKEN_FORM = "y = c + b x^-c0 prod_i (1 + (x / d_i)^(1 / f_i))^(-c_i f_i)"


def broken_legend(res) -> list[dict]:
    """Each break of a :class:`~toyscale.fit.BrokenFit` by name: ``position`` d_i (the x where
    the log-log slope is half-way between its two values), ``slope_before``/``slope_after`` (the
    asymptotic slopes either side), ``slope_change`` (-c_i), ``smoothness`` f_i (the slope
    changes over roughly x in d_i e^(+-2 f_i): 12 % to 88 % of the change; small f = sharp)."""
    out = []
    for i, (d, ci, f) in enumerate(res.breaks):
        out.append({"position": d, "slope_before": res.slopes[i], "slope_after": res.slopes[i + 1],
                    "slope_change": -ci, "smoothness": f,
                    "transition": [d * math.exp(-2 * f), d * math.exp(2 * f)]})
    return out


def _print_broken(out: dict) -> None:
    p = out["params"]
    print(f"  form: {out['form']}")
    print(f"  plateau      c  = {p['c']:.4g}" + ("  (no plateau fitted)" if p["c"] == 0 else ""))
    print(f"  amplitude    b  = {p['b']:.4g}")
    print(f"  first slope -c0 = {-p['c0']:+.4f}  (log-log slope below the first break)")
    for i, br in enumerate(out["breaks"], 1):
        lo, hi = br["transition"]
        print(f"  break {i}: position d_{i} = {br['position']:.4g}; slope {br['slope_before']:+.4f} -> "
              f"{br['slope_after']:+.4f} (change -c_{i} = {br['slope_change']:+.4f}); smoothness f_{i} = "
              f"{br['smoothness']:.4g} (the slope turns over x in [{lo:.4g}, {hi:.4g}])")


def _ci_determined(res) -> bool:
    """False when bootstrap refits with an unidentified exponent (on the search bound) drive the
    interval: any of them with seeds (they inflate the standard error), or at least the tail
    fraction (1 - level) / 2 of them with points (they reach the percentile)."""
    if not res.n_boot_at_bound:
        return True
    return res.resampled == "points" and res.n_boot_at_bound / res.n_boot < (1 - res.level) / 2


def _finite(v):
    """JSON-safe copy: NaN/inf -> null (strict JSON has no NaN), tuples -> lists, NumPy -> Python."""
    if isinstance(v, dict):
        return {k: _finite(u) for k, u in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(u) for u in v]
    if isinstance(v, (np.integer, bool, int)) and not isinstance(v, np.floating):
        return v if isinstance(v, (bool, int)) else int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


def _fmt_ci(lo_hi, fmt):
    if lo_hi is None or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in lo_hi):
        return "  (no interval)"
    return f"  95% CI [{lo_hi[0]:{fmt}}, {lo_hi[1]:{fmt}}]"


def _half(slope, se):
    return "not determined" if slope is None else f"{slope:+.3f} ± {se:.3f}"


def _print(out: dict) -> None:
    head = f"law: {out['law']}" + (f" ({out['method']})" if "method" in out else "") + f", {out['n_points']} rows"
    if "n_x" in out and out["n_x"] != out["n_points"]:
        head += f" at {out['n_x']} x values"
    print(head)
    ci = out.get("params_ci", out.get("ci")) or {}
    if "slope" in out:
        boot = f"({out['n_boot']} {out['bootstrap']} bootstrap)" if out["n_boot"] else "(no bootstrap)"
        if not out["ci_determined"]:
            ci = {}
            boot = "95% CI not determined " + boot
        print(f"  slope = {out['slope']:+.4f}{_fmt_ci(out['ci'], '+.4f') if out['n_boot'] and ci else ''} {boot}")
        if out.get("n_boot_at_bound"):
            print(f"    ({out['n_boot_at_bound']} of {out['n_boot']} bootstrap refits put the exponent on an end of "
                  "its search interval: not identified on those resamples)")
        if out.get("heldout_rel_error") is not None:
            print(f"  held-out error at x = {out['heldout_x']}: {out['heldout_rel_error']:.2%}")
        if "slope_lower" in out:
            flag = {True: "  (RANGE-SENSITIVE)", False: "", None: "  (range sensitivity not determined)"}
            print(f"  lower/upper-half slopes {_half(out['slope_lower'], out['slope_lower_se'])} / "
                  f"{_half(out['slope_upper'], out['slope_upper_se'])}{flag[out['range_sensitive']]}")
            if out.get("range_note"):
                print(f"    ({out['range_note']})")
    if out["law"] == "broken":
        _print_broken(out)
        return
    for k, v in out.get("params", {}).items():
        if isinstance(v, (int, float)):
            extra = _fmt_ci(ci.get(k), ".4g") if isinstance(ci, dict) and k in ci else ""
            print(f"  {k} = {v:.4g}{extra}")
        else:
            print(f"  {k} = {v}")
    if "slopes" in out:
        print("  segment slopes: " + ", ".join(f"{s:+.3f}" for s in out["slopes"]))
    if out["law"] == "joint":
        print(f"  ({out['n_boot']} point-bootstrap refits, {out['interval']} intervals)" if out["n_boot"]
              else "  (no bootstrap: --boot 0)")
    if "objective" in out and math.isfinite(out["objective"]):
        print(f"  objective = {out['objective']:.6g}")
