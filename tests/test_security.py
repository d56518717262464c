"""Static guards: no config value can reach a shell, checkpoints never unpickle code, the UI
target binds loopback. (The behaviour behind each is tested where it lives: schema names in
test_config_fuzz, weights-only loading in test_checkpoint, zip extraction in test_download,
the UI's default bind in test_mlflow_ui.)"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    *ROOT.glob("csft/**/*.py"),
    *ROOT.glob("baselines/**/*.py"),
    *ROOT.glob("workflow/**/*.py"),
]


def test_no_rule_runs_a_shell_command():
    """Rules run Python scripts (`script:`), which get config values as Python objects."""
    rules = [ROOT / "Snakefile", *ROOT.glob("workflow/rules/*.smk")]
    offenders = [p.name for p in rules if re.search(r"^\s*(shell|run):", p.read_text(), re.M)]
    assert offenders == []


def test_every_torch_load_is_weights_only():
    calls = [
        (path.name, line.strip())
        for path in SOURCES
        for line in path.read_text().splitlines()
        if "torch.load(" in line
    ]
    assert calls, "expected the checkpoint loader"
    assert [c for c in calls if "weights_only=True" not in c[1]] == []


def test_no_subprocess_gets_a_shell():
    offenders = [
        path.name
        for path in SOURCES
        if re.search(r"shell\s*=\s*True|os\.system\(", path.read_text())
    ]
    assert offenders == []


def test_make_ui_binds_loopback():
    ui = [line for line in (ROOT / "Makefile").read_text().splitlines() if "mlflow ui" in line]
    assert ui and all("--host 127.0.0.1" in line for line in ui)
