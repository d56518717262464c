"""A forecaster from outside the repo, put beside the reference models with a config change
only: registered by an installed package's entry point (csft_bench.models) or by
`models.<name>.class: "module:Class"`, its architecture checked against its Config dataclass,
run through the DAG, its saved weights rescored."""

import json
import os
import sys
import textwrap

import pandas as pd
import pytest
import yaml
from tiny_study import forecast_only_config, run_snakemake

from csft import evaluate
from csft.config import check_architectures, check_models, uses_pretraining
from csft.models import registry

PLUGIN = textwrap.dedent(
    '''
    """A forecaster written outside csft-bench: the last value plus a learned linear offset."""
    from dataclasses import dataclass

    from torch import nn


    @dataclass(frozen=True)
    class LastValueConfig:
        lookback: int  # the data's shape: every registered model's Config takes these three
        horizon: int
        n_channels: int
        scale: float = 1.0


    class LastValue(nn.Module):
        Config = LastValueConfig

        def __init__(self, config):
            super().__init__()
            self.config = config
            self.linear = nn.Linear(config.lookback, config.horizon)

        def forward(self, x):  # (B, L, C) -> (B, H, C)
            last = x[:, -1:, :]
            offset = self.linear((x - last).transpose(1, 2)).transpose(1, 2)
            return last + self.config.scale * offset
    '''
)


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """A folder holding the plugin package and its installed metadata (an entry point)."""
    site = tmp_path / "site"
    (site / "my_forecasters").mkdir(parents=True)
    (site / "my_forecasters" / "__init__.py").write_text(PLUGIN)
    info = site / "my_forecasters-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-forecasters\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[csft_bench.models]\nlastvalue = my_forecasters:LastValue\n"
    )
    monkeypatch.syspath_prepend(str(site))
    saved = dict(registry.MODELS)
    yield site
    registry.MODELS.clear()
    registry.MODELS.update(saved)
    sys.modules.pop("my_forecasters", None)


def test_an_entry_point_and_a_config_class_register_a_model(plugin_site):
    assert registry.model_target("lastvalue") == "my_forecasters:LastValue"
    model = registry.build_model("lastvalue", {"scale": 0.5}, lookback=8, horizon=4, n_channels=2)
    assert model.config.scale == 0.5 and not uses_pretraining("lastvalue", {})
    config = {
        "forecast": {"runs": [{"model": "mine", "lookback": 8}]},
        "models": {"mine": {"class": "my_forecasters:LastValue", "architecture": {"scale": 2.0}}},
    }
    check_models(config)
    assert registry.model_class("mine").__name__ == "LastValue"
    check_architectures(config)
    config["models"]["mine"]["architecture"] = {"scael": 2.0}
    with pytest.raises(
        ValueError, match=r"models.mine.architecture: unknown architecture key\(s\) \['scael'\]"
    ):
        check_architectures(config)


def test_a_plugin_architecture_is_checked_from_its_own_config(plugin_site):
    """No edit of the YAML schema: the plugin's Config dataclass is its schema."""
    from csft.models.schema import architecture_schema

    schema = architecture_schema(registry.model_class("lastvalue"))
    assert schema["properties"] == {"scale": {"type": "number", "default": 1.0}}
    config = {"forecast": {"runs": [{"model": "lastvalue", "lookback": 8}]},
              "models": {"lastvalue": {"architecture": {}}}}  # fmt: skip
    check_architectures(config)
    assert config["models"]["lastvalue"]["architecture"] == {"scale": 1.0}  # the default
    config["models"]["lastvalue"]["architecture"] = {"scale": "big"}
    with pytest.raises(
        ValueError, match=r"models.lastvalue.architecture.scale: 'big' is not of type 'number'"
    ):
        check_architectures(config)


def test_unknown_and_broken_models_are_named(plugin_site):
    with pytest.raises(ValueError, match=r"unknown model 'nope'.*csft_bench.models"):
        check_models({"forecast": {"runs": [{"model": "nope", "lookback": 8}]}, "models": {}})
    broken = {"forecast": {"runs": [{"model": "gone", "lookback": 8}]},
              "models": {"gone": {"class": "my_forecasters:Missing"}}}  # fmt: skip
    with pytest.raises(ValueError, match=r"model 'gone': cannot load 'my_forecasters:Missing'"):
        check_models(broken)
    with pytest.raises(ValueError, match="has no models.lastvalue block"):
        check_models({"forecast": {"runs": [{"model": "lastvalue", "lookback": 8}]}, "models": {}})
    with pytest.raises(ValueError, match="already registered"):
        registry.register("csft", "my_forecasters:LastValue")
    with pytest.raises(ValueError, match="must be 'module:Class'"):
        registry.register("x", "my_forecasters.LastValue")


def test_a_plugin_model_runs_through_the_dag(tmp_path, mirror, plugin_site):
    """Both routes in one DAG, with a config change only; the table lists the plugins beside
    DLinear and a plugin's saved model rescores to its job's metrics."""
    config = forecast_only_config(
        tmp_path,
        "p/",
        ett={"datasets": ["ETTh1"]},
        forecast={
            "runs": [{"model": "lastvalue", "lookback": 48}, {"model": "mine", "lookback": 48},
                     {"model": "dlinear", "lookback": 48}],
            "horizons": [24],
        },
        models={
            "lastvalue": {"architecture": {"scale": 0.5}, "training": {"epochs": 1}},
            "mine": {"class": "my_forecasters:LastValue", "training": {"epochs": 1}},
            "dlinear": {"training": {"epochs": 1}},
        },
    )  # fmt: skip
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_site), env.get("PYTHONPATH")]))
    target = tmp_path / "results" / "tables" / "forecast.csv"
    result = run_snakemake(str(target), "--configfile", str(configfile), mirror=mirror, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(target)
    assert sorted(table.model) == ["dlinear", "lastvalue", "mine"]
    job = tmp_path / "results" / "forecast" / "lastvalue" / "ETTh1" / "L48" / "H24" / "seed1"
    record = json.loads((job / "metrics.json").read_text())[0]
    assert (
        evaluate.evaluate(job / "model.pt", tmp_path / "data")[0]["test_mse"]
        == (record["test_mse"])
    )
