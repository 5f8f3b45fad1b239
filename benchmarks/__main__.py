"""`python -m benchmarks [--quick] [--cases a,b] [--out DIR] [--scale F] [--threads N]`

Runs tfopt and a plain keras-tuner/Keras peer on the same data, machine and thread
settings, one case after another, and prints one JSON line per case to stdout
(progress and a summary table go to stderr). See benchmarks/RESULTS.md.
"""

import argparse
import functools
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

from benchmarks import cases
from benchmarks.harness import REPO, cores, machine_info, utc_now, versions

# name: (case, its arguments, {mode: the work each side gets}).
CASES = {
    "tuning_fashion": (cases.tuning,
                       dict(task="fashion_mnist", target=0.88, goal_ratio=1.3, time_goal=2),
                       {"quick": dict(budget=300, concurrent=True),
                        "full": dict(budget=1200, concurrent=True)}),
    "throughput": (cases.throughput, {},
                   {"quick": dict(size=8_000, epochs=3), "full": dict(size=None, epochs=4)}),
    "overhead_digits": (cases.overhead, dict(task="digits"),  # quick: the memory case's runs
                        {"quick": dict(trials=8, concurrent=True), "full": dict(trials=10)}),
    "overhead_mr": (cases.overhead, dict(task="mr"),
                    {"quick": dict(trials=2, concurrent=True), "full": dict(trials=10)}),
    "memory": (cases.memory, dict(task="digits"),
               {"quick": dict(trials=8), "full": dict(trials=20)}),
    "tuning_mr": (cases.tuning, dict(task="mr", target=0.75, goal_ratio=1.0, time_goal=None),
                  {"quick": dict(budget=60, concurrent=True),
                   "full": dict(budget=600, concurrent=True)}),
}


def scaled(work, scale):
    """`work` shrunk (or grown) by `scale` for smoke runs: seconds, trials (at least 3)
    and images (at least 1,024) scale; epochs do not."""
    if scale == 1:
        return dict(work)
    rules = {"budget": lambda v: round(v * scale, 1), "trials": lambda v: max(3, round(v * scale)),
             "size": lambda v: max(1024, round((v or 54_000) * scale))}
    return {key: rules[key](value) if key in rules else value for key, value in work.items()}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true",
                        help="small budgets: about 10 minutes on 2 CPU cores in total")
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated cases to run (default: all): {', '.join(CASES)}")
    parser.add_argument("--out", help="folder for the sides' scratch run folders (kept; default: "
                                      "a temporary folder, removed afterwards)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply budgets, trial counts and data sizes, e.g. 0.1 for a smoke "
                             "run (its figures are not comparable)")
    parser.add_argument("--threads", type=int, default=cores(),
                        help="TensorFlow intra- and inter-op threads of every side (default: "
                             "the cores this process may use)")
    args = parser.parse_args(argv)
    args.cases = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in args.cases if name not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}. Known cases: {', '.join(CASES)}.")
    if args.scale <= 0:
        parser.error(f"--scale must be positive. Received: {args.scale}")
    runs, out = pathlib.Path(REPO, "runs").resolve(), pathlib.Path(args.out or "/").resolve()
    if args.out and (out == runs or runs in out.parents):
        parser.error(f"--out must not be inside {runs}, where your own searches live. "
                     f"Received: {args.out}")
    return args


def run_case(name, args, out):
    """One case's JSON record (with `skipped` or `error` when it did not run)."""
    case, arguments, work = CASES[name]
    mode = "quick" if args.quick else "full"
    work = scaled(work[mode], args.scale)
    say(f"\n[bench] {name} ({mode}, scale {args.scale}): {work}")
    started = time.monotonic()
    try:
        scratch = tempfile.mkdtemp(prefix=f"{name}-", dir=out)  # fresh: tfopt resumes old runs
        record = case(**arguments, **work, out=scratch, threads=args.threads)
    except cases.Skipped as reason:
        record = {"skipped": str(reason), "met": None}
    except Exception as error:  # one failed case must not lose the others' results
        record = {"error": f"{type(error).__name__}: {error}", "met": None}
    return {"case": name, "mode": mode, "scale": args.scale, **record,
            "case_seconds": round(time.monotonic() - started, 1),
            "machine": machine_info(args.threads), "versions": versions(), "date": utc_now()}


def summary(records):
    """A table of every figure, both sides, its ratio and whether the case met its goal."""
    rows = [("case", "figure", "tfopt", "peer", "ratio", "case met goal")]
    for record in records:
        if "figures" not in record:
            rows.append((record["case"], record.get("skipped") and "skipped" or "error",
                         "", "", "", (record.get("skipped") or record.get("error"))[:60]))
            continue
        for (figure, values), ratio in zip(record["figures"].items(), record["ratios"].values()):
            rows.append((record["case"], figure, _show(values["tfopt"]), _show(values["peer"]),
                         _show(ratio), str(record["met"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths))
                     for row in rows)


def _show(value):
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


say = functools.partial(print, file=sys.stderr, flush=True)


def main(argv=None):
    args = parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="tfopt-bench-")
    os.makedirs(out, exist_ok=True)
    say(f"[bench] {len(args.cases)} case(s); scratch folder {out}")
    started, records = time.monotonic(), []
    try:
        for name in args.cases:
            records.append(run_case(name, args, out))
            print(json.dumps(records[-1]), flush=True)
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)
    say(f"\n{summary(records)}\n[bench] {time.monotonic() - started:.0f} s in all")
    return 1 if any("error" in record for record in records) else 0


if __name__ == "__main__":
    sys.exit(main())
