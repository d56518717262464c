"""A failing job's own log file says why it failed."""

import subprocess
import sys


def test_uncaught_exception_lands_in_the_job_log(tmp_path):
    log = tmp_path / "job.log"
    script = (
        "from csft import joblog\n"
        f"joblog.log_to({str(log)!r})\n"
        "import logging; logging.getLogger('x').info('epoch 1 done')\n"
        "raise ValueError('3 training windows is fewer than one batch of 32')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode != 0
    assert "fewer than one batch" in result.stderr  # still printed as usual
    text = log.read_text()
    assert "epoch 1 done" in text
    assert "CRITICAL job: job failed" in text and "ValueError: 3 training windows" in text
