"""Device choice: a GPU when allowed and visible, the CPU otherwise, never a hard GPU need by
default; `device: cuda` asks the scheduler for a GPU on training rules only."""

import re

import pytest
import torch
from tiny_study import run_snakemake, tiny_config, write_config

from csft.device import describe, device_of, resolve_device
from csft.jobs.forecast import ForecastJob


def test_auto_falls_back_to_the_cpu_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_auto_takes_a_visible_gpu_and_cpu_never_does(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda").type == "cuda"
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="sees no GPU.*device: auto"):
        resolve_device("cuda")


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="'tpu'"):
        resolve_device("tpu")


def test_device_of_a_module_and_its_description():
    assert device_of(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert device_of(torch.nn.ReLU()) == torch.device("cpu")  # no parameters
    assert describe(torch.device("cpu")) == "cpu"


def test_jobs_default_to_the_cpu():
    job = ForecastJob("dlinear", "ETTh1", 24, 1, (96, 97), (96,))
    assert job.device == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_training_loop_follows_the_model_onto_a_gpu():  # runs on GPU hosts only
    from torch.utils.data import TensorDataset

    from csft.training import forecast

    windows = TensorDataset(torch.randn(64, 32, 2), torch.randn(64, 8, 2))  # CPU batches
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.Unflatten(1, (8, 2))
    ).to(resolve_device("cuda"))
    config = forecast.TrainingConfig(batch_size=16, epochs=1)
    forecast.train(model, windows, windows, config, torch.Generator().manual_seed(0))
    assert forecast.predict(model, windows, 32).pred.shape == (64, 8, 2)


def gpu_requests(output: str) -> dict[str, set[int]]:
    """Rule -> the `gpu` resource values its jobs show in a dry run."""
    requests: dict[str, set[int]] = {}
    for block in re.split(r"\n\[[^\]\n]+\]\n", output):  # a "[date]" line starts each job
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if rule:
            found = re.search(r"resources:.*\bgpu=(\d+)", block)
            requests.setdefault(rule.group(1), set()).add(int(found.group(1)) if found else 0)
    return requests


@pytest.mark.parametrize(("device", "expected"), [("auto", 0), ("cpu", 0), ("cuda", 1)])
def test_training_rules_request_a_gpu_only_for_device_cuda(tmp_path, mirror, device, expected):
    config = tiny_config(tmp_path)
    config["device"] = device
    result = run_snakemake("-n", "--configfile", str(write_config(tmp_path, config)), mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    requests = gpu_requests(result.stdout + result.stderr)
    training = ["train_forecast", "train_forecast_uf", "train_analysis", "boundary_lengths"]
    for rule in training:
        assert requests[rule] == {expected}, (rule, requests[rule])
    # Classification: only the neural models; aeon's MiniROCKET and DTW stay on the CPU.
    assert requests["train_classify"] == ({0, 1} if expected else {0})
    assert requests["forecast_table"] == {0} and requests["download_ett"] == {0}
