"""The MLflow UI over the tiny study's store, opened in a real headless Chromium.

`mlflow ui` is started without --host (its default must be loopback only) in its own process
group, which is stopped as a whole at the end: the UI forks uvicorn workers and a job runner.
Chromium (Debian's, installed by `.ci/run`) renders the experiments page and one experiment's
runs page; their DOM must list every experiment and every run, and a screenshot is saved under
the study's results/.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from mlflow_server import serve

pytestmark = pytest.mark.e2e
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
    log = tmp_path_factory.mktemp("mlflow_ui") / "ui.log"
    with serve("ui", f"sqlite:///{root}/mlflow.db", log) as (url, port):
        yield root, url, port


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
    # pretrain, forecast, classify, ablation, features, lengths, sensitivity, tuning and the
    # three open questions (questions/objectives, irregular, channels)
    assert len(names) == 11
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
