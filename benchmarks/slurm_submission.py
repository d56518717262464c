"""What the SLURM executor adds to a job: a toy workflow of 1-s jobs on a one-node test SLURM.

    python benchmarks/slurm_submission.py [--jobs 1 20] [--out results/bench]

Needs slurm-wlm and munge (`.ci/run` installs them); starts the same throwaway cluster as the
tests (tests/slurm_cluster.py: munged, slurmctld and slurmd on localhost, this machine's CPUs)
and stops it afterwards. For each count N, a fresh folder runs N independent `sleep 1` jobs
with `snakemake --executor slurm` and the status settings read from workflow/profiles/slurm
(status command, first poll); the wall time from Snakemake's start to its exit is printed with the
installed plugin's version, so two versions are compared by running it under each. Every job
runs a Snakemake of its own inside SLURM (the plugin's jobstep), so N jobs cost N start-ups on
the node's CPUs whatever the plugin version; what differs between versions is the time before
and between submissions. Written to slurm_submission.md / .csv under --out.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import yaml

from csft import atomic

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "snakemake-executor-plugin-slurm"
PROFILE = ROOT / "workflow" / "profiles" / "slurm" / "config.yaml"
STATUS_SETTINGS = ("slurm-status-command", "slurm-init-seconds-before-status-checks")
TOY = """
rule all:
    input:
        expand("out/{i}.txt", i=range(int(config["jobs_n"]))),


rule one:
    output:
        "out/{i}.txt",
    resources:
        runtime=5,
        mem_mb=100,
    shell:
        "sleep 1 && echo {wildcards.i} > {output}"
"""


def run_toy(cluster, folder: Path, n_jobs: int) -> float:
    """Seconds for `n_jobs` independent 1-s jobs through the SLURM executor on `cluster`."""
    folder.mkdir(parents=True)
    (folder / "Snakefile").write_text(TOY)
    profile = yaml.safe_load(PROFILE.read_text())
    status = [arg for key in STATUS_SETTINGS for arg in (f"--{key}", str(profile[key]))]
    command = [
        str(Path(sys.executable).parent / "snakemake"),
        "--executor", "slurm", "--jobs", "100", *status,
        "--slurm-logdir", str(folder / "slurm_logs"),
        "--config", f"jobs_n={n_jobs}",
    ]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, env=cluster.env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"the toy workflow of {n_jobs} jobs failed:\n{result.stderr[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from slurm_cluster import SlurmCluster, available

    if not available():
        parser.error("slurm-wlm and munge are not installed (apt-get install slurm-wlm munge)")
    rows, installed = [], version(PLUGIN)
    with tempfile.TemporaryDirectory(prefix="csft-slurm-bench-") as scratch:
        with SlurmCluster(Path(scratch) / "cluster") as cluster:
            for n_jobs in args.jobs:
                seconds = run_toy(cluster, Path(scratch) / f"jobs{n_jobs}", n_jobs)
                rows.append({"plugin": installed, "jobs": n_jobs, "seconds": seconds})
                print(f"{PLUGIN} {installed}: {n_jobs} jobs of 1 s in {seconds:.1f} s")
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(args.out / "slurm_submission.csv", table.to_csv(index=False))
    atomic.write_text(args.out / "slurm_submission.md", table.to_markdown(index=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
