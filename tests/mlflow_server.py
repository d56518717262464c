"""`mlflow ui` / `mlflow server` on a free loopback port, in its own process group, for tests."""

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from processes import stop_group

MLFLOW = Path(sys.executable).parent / "mlflow"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serve(command: str, store_uri: str, log: Path, *extra: str) -> Iterator[tuple[str, int]]:
    """Start `mlflow <command>` (ui or server) without --host, wait for /health, yield
    (url, port); stop its whole process group afterwards (it forks uvicorn workers and a job
    runner) and fail if any member needed a SIGKILL."""
    port = free_port()
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(MLFLOW), command, "--backend-store-uri", store_uri, "--port", str(port), *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/health", timeout=5) as r,
            ):
                if r.read() == b"OK":
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow {command} did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield url, port
    finally:
        stubborn = stop_group(server)
    assert stubborn == [], f"mlflow {command} left processes behind after SIGTERM: {stubborn}"
