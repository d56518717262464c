"""Process groups the tests start and must leave nothing of."""

import os
import signal
import subprocess
import time
from pathlib import Path


def living_members(pgid: int) -> list[int]:
    """Processes of group `pgid` that are not zombies (those only wait for their reaper)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def stop_group(process: subprocess.Popen, grace: float = 30) -> list[int]:
    """SIGTERM the process's group (it was started with start_new_session=True), SIGKILL what
    is left after `grace` seconds; returns the members that needed the SIGKILL."""
    os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while living_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    stubborn = living_members(process.pid)
    if stubborn:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return stubborn
