"""Job overhead: what every Snakemake job pays before it does its work.

    python benchmarks/overhead.py imports [--checkout .] [--repeats 5] [--out results/bench]
    python benchmarks/overhead.py logs results/logs [--out results/bench]

Every job is a fresh Python process (Snakemake's `script:` directive), so the interpreter start
and the imports are paid once per job: ~50 jobs in the quick study, ~2,500 in the full one.

`imports`: for each training script of workflow/scripts, a fresh process runs only the script's
module-level imports (read from its source), `repeats` times; the median seconds from process
start (csft.joblog.seconds_since_start) and the heavy packages the imports pulled in. With
`--checkout` another checkout's scripts and csft are measured, so a change is compared with
the code before it on the same machine, in the same run.

`logs`: a finished study's job logs, read back: each job logs its startup (csft.joblog.STARTUP)
and, when it trains, its first optimizer step (csft.joblog.FIRST_STEP). Per rule: jobs, median
startup and first-step seconds, and the job time (process start to its last log line); the total
startup share of the job time is the study's job overhead.

Written to overhead_imports.md / overhead_logs.md (and .csv) under --out. The times are only as
good as the machine is idle: run it with nothing else on the cores.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from csft import atomic, joblog

ROOT = Path(__file__).resolve().parents[1]
JOB_SCRIPTS = (
    "train_forecast",
    "pretrain_encoder",
    "train_classify",
    "boundary_lengths",
    "tune_forecast",
    "tune_classify",
)
HEAVY = ("torch", "mlflow", "pandas", "scipy", "sklearn", "matplotlib", "optuna", "aeon")
PROBE = """
import sys
{imports}
import importlib.util  # this benchmark's own clock, whatever the measured checkout's csft is
spec = importlib.util.spec_from_file_location("probe_joblog", {joblog!r})
clock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(clock)
print(clock.seconds_since_start(), "|", ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def script_imports(path: Path) -> str:
    """The module-level import statements of a workflow script, as source."""
    tree = ast.parse(path.read_text())
    return "\n".join(
        ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
    )


def time_imports(checkout: Path, script: str, repeats: int) -> dict:
    """Median seconds from process start to the end of `script`'s imports, in `checkout`."""
    source = PROBE.format(
        imports=script_imports(checkout / "workflow" / "scripts" / f"{script}.py"),
        joblog=joblog.__file__,
        heavy=HEAVY,
    )
    seconds, loaded = [], ""
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", source],
            cwd=checkout,
            env={**os.environ, "PYTHONPATH": str(checkout)},
            capture_output=True,
            text=True,
            check=True,
        )
        value, loaded = done.stdout.strip().splitlines()[-1].split("|")
        seconds.append(float(value))
        loaded = loaded.strip()
    return {
        "script": script,
        "startup_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "imports": loaded,
    }


STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
TIMESTAMP = re.compile(STAMP)


def logged(message: str) -> re.Pattern:
    """A log line of `message` (a %.2f format of csft.joblog): its timestamp and its number."""
    return re.compile(STAMP + r".*" + re.escape(message).replace("%\\.2f", r"([\d.]+)"))


STARTUP, FIRST_STEP = logged(joblog.STARTUP), logged(joblog.FIRST_STEP)


def parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")  # logging's asctime


def read_job_log(path: Path) -> dict | None:
    """A job log's startup, first-step and total seconds; None if it has no startup line."""
    text = path.read_text(errors="replace").splitlines()
    startup = next((m for line in text if (m := STARTUP.match(line))), None)
    if startup is None:
        return None
    stamps = [m.group(1) for line in text if (m := TIMESTAMP.match(line))]
    opened = parse_stamp(startup.group(1))
    first = next((m for line in text if (m := FIRST_STEP.match(line))), None)
    first_step = float(first.group(2)) if first else float("nan")
    job = float(startup.group(2)) + (parse_stamp(stamps[-1]) - opened).total_seconds()
    # The job ended after its first step was logged; the lines' 0.01 s and 1 ms roundings
    # could otherwise put the end a few ms before it.
    return {
        "startup_s": float(startup.group(2)),
        "first_step_s": first_step,
        "job_s": job if first is None else max(job, first_step),
    }


def read_logs(logs: Path) -> pd.DataFrame:
    """One row per job log under `logs` (results/logs/<rule>/...log) that has a startup line."""
    rows = []
    for path in sorted(logs.rglob("*.log")):
        found = read_job_log(path)
        if found is not None:
            rule = path.relative_to(logs).parts[0].removesuffix(".log")  # <rule>.log or <rule>/
            rows.append({"rule": rule, "log": str(path), **found})
    if not rows:
        raise ValueError(f"{logs}: no job log with a startup line ({joblog.STARTUP!r})")
    return pd.DataFrame(rows)


def summarize_logs(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule, and in all: jobs, median startup and first step, job seconds, startup share."""
    grouped = jobs.groupby("rule")
    table = pd.DataFrame(
        {
            "jobs": grouped.size(),
            "startup_median_s": grouped.startup_s.median(),
            "first_step_median_s": grouped.first_step_s.median(),
            "job_total_s": grouped.job_s.sum(),
            "startup_share": grouped.startup_s.sum() / grouped.job_s.sum(),
        }
    ).reset_index()
    total = {
        "rule": "all",
        "jobs": len(jobs),
        "startup_median_s": jobs.startup_s.median(),
        "first_step_median_s": jobs.first_step_s.median(),
        "job_total_s": jobs.job_s.sum(),
        "startup_share": jobs.startup_s.sum() / jobs.job_s.sum(),
    }
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    imports = sub.add_parser("imports", help="time each job script's imports in fresh processes")
    imports.add_argument("--checkout", type=Path, default=ROOT)
    imports.add_argument("--repeats", type=int, default=5)
    logs = sub.add_parser("logs", help="read a finished study's job logs")
    logs.add_argument("logs", type=Path)
    for mode in (imports, logs):
        mode.add_argument("--out", type=Path, default=Path("results/bench"))
    args = parser.parse_args(argv)
    if args.mode == "imports":
        if args.repeats < 1:
            parser.error(f"--repeats must be >= 1, got {args.repeats}")
        table = pd.DataFrame(
            [time_imports(args.checkout.resolve(), s, args.repeats) for s in JOB_SCRIPTS]
        )
        name = "overhead_imports"
    else:
        table = summarize_logs(read_logs(args.logs))
        name = "overhead_logs"
    atomic.write_text(args.out / f"{name}.csv", table.to_csv(index=False, float_format="%.4g"))
    atomic.write_text(args.out / f"{name}.md", table.to_markdown(index=False, floatfmt=".3g"))
    print(table.to_markdown(index=False, floatfmt=".3g"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
