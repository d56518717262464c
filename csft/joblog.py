"""Each Snakemake job's own log file: every message, and the traceback if the job fails.

Without the hook an uncaught exception only reaches the job's stderr (Snakemake's console, or
the SLURM log on a cluster); with it, `results/logs/<rule>/...log` says why the job failed too.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STARTUP = "process startup %.2f s"  # benchmarks/overhead.py reads these two lines back
FIRST_STEP = "first optimizer step %.2f s after the process started"


def seconds_since_start() -> float | None:
    """Seconds since this process started (Linux: /proc, 10 ms resolution); None elsewhere.
    Why: a job's interpreter start and imports happen before any of its code can time them."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return None


def log_to(path: str) -> None:
    """Send this process's logging to `path` and log an uncaught exception there before the
    interpreter prints it as usual."""
    logging.basicConfig(filename=path, level=logging.INFO, format=FORMAT, force=True)
    startup = seconds_since_start()
    if startup is not None:
        logging.getLogger("job").info(STARTUP, startup)
    previous = sys.excepthook

    def log_failure(kind, value, traceback) -> None:
        logging.getLogger("job").critical("job failed", exc_info=(kind, value, traceback))
        previous(kind, value, traceback)

    sys.excepthook = log_failure
