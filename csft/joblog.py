"""Each Snakemake job's own log file: every message, and the traceback if the job fails.

Without the hook an uncaught exception only reaches the job's stderr (Snakemake's console, or
the SLURM log on a cluster); with it, `results/logs/<rule>/...log` says why the job failed too.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_to(path: str) -> None:
    """Send this process's logging to `path` and log an uncaught exception there before the
    interpreter prints it as usual."""
    logging.basicConfig(filename=path, level=logging.INFO, format=FORMAT, force=True)
    previous = sys.excepthook

    def log_failure(kind, value, traceback) -> None:
        logging.getLogger("job").critical("job failed", exc_info=(kind, value, traceback))
        previous(kind, value, traceback)

    sys.excepthook = log_failure
