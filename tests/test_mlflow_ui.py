"""The MLflow UI over the tiny study's store, opened in a real headless Chromium.

`mlflow ui` is started without --host (its default must be loopback only) in its own process
group, which is stopped as a whole at the end: the UI forks uvicorn workers and a job runner.
Chromium (Debian's, installed by `.ci/run`) renders the experiments page and one experiment's
runs page; their DOM must list every experiment and every run, and a screenshot is saved under
the study's results/.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.e2e
MLFLOW = Path(sys.executable).parent / "mlflow"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # this machine's closed network refuses the rest
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=25000",  # let the single-page app fetch and render
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CSFT_REQUIRE_BROWSER"):  # set by .ci/run: no silent skip in CI
        pytest.fail("Chromium is not installed (apt-get install chromium)")
    pytest.skip("Chromium is not installed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Local IPv4/IPv6 addresses with a listening socket on `port` (from /proc/net)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.fixture(scope="module")
def ui(study, tmp_path_factory):
    root = study[0]
    port = free_port()
    log = tmp_path_factory.mktemp("mlflow_ui") / "ui.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(MLFLOW), "ui", "--backend-store-uri", f"sqlite:///{root}/mlflow.db"]
            + ["--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, workers included
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as reply:
                    if reply.read() == b"OK":
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow ui did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield root, url, port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        deadline = time.monotonic() + 30
        while _group_alive(server.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _group_alive(server.pid):
            os.killpg(server.pid, signal.SIGKILL)
            pytest.fail("mlflow ui left worker processes behind after SIGTERM")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def render(url: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *extra, url],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_ui_listens_on_loopback_only_by_default(ui):
    _, _, port = ui
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else


def test_browser_lists_every_experiment(ui, tmp_path):
    root, url, _ = ui
    page = render(f"{url}/#/experiments", tmp_path, "--dump-dom")
    assert page.returncode == 0, page.stderr[-2000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow.db")
    names = [e.name for e in client.search_experiments() if e.name.startswith("tiny/")]
    assert len(names) == 5
    assert [name for name in names if name not in page.stdout] == []


def test_browser_lists_every_run_and_saves_a_screenshot(ui, tmp_path):
    root, url, _ = ui
    client = MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("tiny/forecast")
    runs = client.search_runs([experiment.experiment_id])
    page_url = f"{url}/#/experiments/{experiment.experiment_id}/runs"
    page = render(page_url, tmp_path, "--dump-dom")
    assert page.returncode == 0, page.stderr[-2000:]
    assert [r.info.run_name for r in runs if r.info.run_name not in page.stdout] == []
    screenshot = root / "results" / "mlflow_ui.png"
    shot = render(page_url, tmp_path, "--window-size=1400,900", f"--screenshot={screenshot}")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one
