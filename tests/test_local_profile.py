"""The local profile keeps Snakemake's own scheduler from growing with the number of finished
jobs (workflow/profiles/local/config.yaml says why; docs/cluster.md has the measurement).

With Snakemake's default job rate limiter (100/1s) every finished job starts another chain of
scheduling rounds, one per second, so a run of many jobs spends ever more of a core choosing
the next one. The profile's limiter re-evaluates every 10 s, so a short run schedules about
once per finished job.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "workflow" / "profiles" / "local"
N_JOBS = 10

TOY = f"""
rule all:
    input:
        expand("out/{{i}}.txt", i=range({N_JOBS})),


rule job:
    output:
        "out/{{i}}.txt",
    shell:
        "sleep 1; touch {{output}}"
"""


def scheduling_rounds(tmp_path: Path, *options: str) -> int:
    """Rounds in which Snakemake chose among ready jobs (its debug log says "Ready jobs")."""
    (tmp_path / "Snakefile").write_text(TOY)
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--verbose", "--directory", str(tmp_path),
         "--snakefile", str(tmp_path / "Snakefile"), *options],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return len(re.findall(r"Ready (subsampled )?jobs", done.stderr))


def test_default_limiter_adds_rounds_as_jobs_finish(tmp_path):
    """The control: without the profile the toy needs well over one round per job, so the
    test below can fail."""
    assert scheduling_rounds(tmp_path, "--cores", "2") > 1.5 * N_JOBS


def test_local_profile_schedules_about_once_per_finished_job(tmp_path):
    assert scheduling_rounds(tmp_path, "--profile", str(PROFILE)) <= 1.5 * N_JOBS
