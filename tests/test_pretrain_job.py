"""The encoder pretraining job every horizon fine-tunes from (real ETTh1): what it trains on,
the file it hands over (weights-only, with its settings) and the refusals a user meets."""

import itertools
import pickle
import re

import pytest
import torch
from tiny_study import resolved_tiny_config, with_value

from csft.config import check_pretraining, pretraining_settings, resolve_architecture
from csft.data.ett import ETTSeries
from csft.jobs import pretrain as pretrain_job
from csft.jobs.common import Tracking

TINY_CSFT = {"d_model": 8, "n_heads": 2}
PRETRAINING = {"epochs": 2, "batch_size": 16, "max_batches_per_epoch": 2}
JOB = pretrain_job.PretrainJob("ETTh1", 64, seed=0)


@pytest.fixture(scope="module")
def etth1(mirror):
    return ETTSeries.load(mirror / "ETT-small" / "ETTh1.csv", "ETTh1", 64)


@pytest.fixture(scope="module")
def pretrained(etth1):
    return pretrain_job.run(JOB, etth1, TINY_CSFT, PRETRAINING)


def test_pretraining_sees_look_backs_only_and_is_seeded(etth1, pretrained):
    encoder, history = pretrained
    train, val = etth1.windows("train", 0), etth1.windows("val", 0)
    assert len(train) == 8640 - 64 + 1  # every look-back of the 12 training months
    assert train[0][1].shape == (0, 7) and len(val) == 2880 + 1  # no target is read
    assert len(history) == 2 and {"train_total", "val_total"} <= set(history[0])
    again, history_again = pretrain_job.run(JOB, etth1, TINY_CSFT, PRETRAINING)
    assert history == history_again
    assert all(
        torch.equal(a, b)
        for a, b in zip(encoder.state_dict().values(), again.state_dict().values(), strict=True)
    )
    other = pretrain_job.PretrainJob("ETTh1", 64, seed=1)
    assert pretrain_job.run(other, etth1, TINY_CSFT, PRETRAINING)[1] != history


def test_saved_encoder_loads_back_with_its_settings(tmp_path, etth1, pretrained):
    encoder, history = pretrained
    settings = pretrain_job.encoder_settings(JOB, TINY_CSFT, etth1.n_channels)
    path = tmp_path / "encoder.pt"
    pretrain_job.save_encoder(path, encoder, settings, history, "run123", 5.0)
    payload = pretrain_job.load_encoder(path, settings)
    assert payload["mlflow_run_id"] == "run123" and payload["history"] == history
    assert payload["seconds"] == 5.0
    for key, value in encoder.state_dict().items():
        assert torch.equal(payload["state"][key], value)
    assert [p.name for p in tmp_path.iterdir()] == ["encoder.pt"]  # no .part left


def test_an_encoder_of_other_settings_is_refused_naming_them(tmp_path, etth1, pretrained):
    encoder, history = pretrained
    settings = pretrain_job.encoder_settings(JOB, TINY_CSFT, etth1.n_channels)
    path = tmp_path / "encoder.pt"
    pretrain_job.save_encoder(path, encoder, settings, history, "run123", 5.0)
    residual = {**settings, "architecture": {**TINY_CSFT, "fusion": "residual"}}
    with pytest.raises(ValueError, match="architecture.*fusion.*forcerun pretrain_encoder"):
        pretrain_job.load_encoder(path, residual)
    with pytest.raises(ValueError, match="lookback: 64 != 128"):
        pretrain_job.load_encoder(path, {**settings, "lookback": 128})


class Payload:
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_pickled_object_in_an_encoder_file_is_refused(tmp_path):
    path = tmp_path / "encoder.pt"
    torch.save({"format": 1, "state": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError):
        pretrain_job.load_encoder(path, {})
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a pretrained encoder"):
        pretrain_job.load_encoder(path, {})


CONFIG = {
    "models": {
        "csft": {
            "architecture": {"d_model": 8},
            "pretraining": {"epochs": 1},
            "recipe_overrides": [{"dataset": "ETTh2", "architecture": {"d_model": 16}}],
        },
        "patchtst": {"architecture": {}, "recipe_overrides": []},
    },
    "analysis": {
        "variants": [{"name": "res", "model": "csft", "architecture": {"fusion": "residual"}}]
    },
}


def test_pretraining_settings_follow_the_model_and_variant():
    forecast = pretraining_settings(CONFIG, "forecast", "csft", "ETTh2")
    assert forecast["architecture"] == {"d_model": 16} and forecast["pretraining"] == {"epochs": 1}
    variant = pretraining_settings(CONFIG, "analysis", "res", "ETTh1")
    assert variant["architecture"] == {"d_model": 8, "fusion": "residual"}
    with pytest.raises(ValueError, match="no analysis variant 'nope'"):
        pretraining_settings(CONFIG, "analysis", "nope", "ETTh1")


def test_a_horizon_specific_architecture_of_a_pretrained_model_is_refused():
    settings = {
        "architecture": {"d_model": 8},
        "pretraining": {"epochs": 1},
        "recipe_overrides": [
            {"dataset": "ETTh1", "horizons": [720], "architecture": {"d_model": 32}}
        ],
    }
    assert resolve_architecture(settings, "ETTh1", None) == {"d_model": 8}
    assert resolve_architecture(settings, "ETTh1", 720) == {"d_model": 32}
    with pytest.raises(ValueError, match=r"models.csft.recipe_overrides: ETTh1 horizons \[720\]"):
        check_pretraining({"models": {"csft": settings}})
    check_pretraining({"models": {"csft": {**settings, "pretraining": {"epochs": 0}}}})
    check_pretraining(CONFIG)


def test_probe_mode_without_pretraining_is_refused_before_any_job():
    settings = {"architecture": {}, "pretraining": {"epochs": 0}, "mode": "probe"}
    with pytest.raises(ValueError, match="models.csft.mode: probe .*pretraining.epochs"):
        check_pretraining({"models": {"csft": settings}})


def test_interval_pretraining_sees_the_lengths_it_serves(mirror, monkeypatch):
    """The uf encoder pretrains on look-backs drawn from its interval (seeded per batch) and
    validates on the mean over the look-backs it is tested at, under its placement."""
    job = pretrain_job.PretrainJob("ETTh1", 64, 0, interval=(64, 128), eval_lookbacks=(64, 96))
    series = ETTSeries.load(mirror / "ETT-small" / "ETTh1.csv", "ETTh1", job.max_lookback)
    batches = pretrain_job.IntervalBatches(64, 128, (64, 96))
    generator = torch.Generator().manual_seed(0)
    lengths = {x.shape[1] for x, _ in itertools.islice(
        batches(series.windows("train", 0), 16, True, generator), 20
    )}  # fmt: skip
    assert len(lengths) > 5 and all(64 <= t < 128 for t in lengths)
    val = batches(series.windows("val", 0), 512, False, None)
    seen = [x.shape[1] for x, _ in val]
    assert len(val) == len(seen) and set(seen) == {64, 96}
    assert sum(len(x) for x, _ in batches(series.windows("val", 0), 512, False, None)) == 2 * (
        len(series.windows("val", 0))
    )
    shapes = []
    original = pretrain_job.pretrain

    def spy(encoder, train, val_windows, config, generator, on_epoch, **kwargs):
        real = kwargs["batches"]
        kwargs["batches"] = lambda *a: [shapes.append(b[0].shape[1]) or b for b in real(*a)]
        return original(encoder, train, val_windows, config, generator, on_epoch, **kwargs)

    monkeypatch.setattr(pretrain_job, "pretrain", spy)
    architecture = {**TINY_CSFT, "placement": "pad_mask"}
    encoder, history = pretrain_job.run(job, series, architecture, PRETRAINING)
    assert encoder.config.grid_length == 128 and len(history) == 2
    assert len(set(shapes)) > 2  # several training lengths, and both validation look-backs
    assert {64, 96} <= set(shapes)
    settings = pretrain_job.encoder_settings(job, architecture, series.n_channels)
    assert settings["interval"] == [64, 128]
    with pytest.raises(ValueError, match="inside the interval"):
        pretrain_job.PretrainJob("ETTh1", 64, 0, interval=(64, 128), eval_lookbacks=(200,))
    with pytest.raises(ValueError, match="needs 127"):
        pretrain_job.run(job, ETTSeries.load(mirror / "ETT-small" / "ETTh1.csv", "ETTh1", 64),
                         TINY_CSFT, PRETRAINING)  # fmt: skip


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    return resolved_tiny_config(tmp_path_factory.mktemp("config"))


def test_settings_resolve_every_field_of_each_kind_of_pretraining(config):
    csft = config["models"]["csft"]
    main = pretrain_job.resolve(
        config,
        {"group": "forecast", "name": "csft", "dataset": "ETTh1", "lookback": "64", "seed": "2"},
    )
    assert main.job == pretrain_job.PretrainJob("ETTh1", 64, 2, "M", "auto")
    assert (main.architecture, main.pretraining) == (csft["architecture"], csft["pretraining"])
    assert main.tracking == Tracking(
        config["tracking"]["uri"], "tiny/pretrain", "forecast/csft/ETTh1/L64/2"
    )
    variant = pretrain_job.resolve(
        config,
        {
            "group": "analysis",
            "name": "csft_residual",
            "dataset": "ETTh1",
            "lookback": "64",
            "seed": "1",
        },
    )
    assert variant.architecture == {**csft["architecture"], "fusion": "residual"}
    uf = pretrain_job.resolve(
        config,
        {
            "model": "csft",
            "dataset": "ETTh1",
            "low": "64",
            "high": "128",
            "placement": "crop",
            "seed": "1",
        },
    )
    assert uf.job == pretrain_job.PretrainJob("ETTh1", 64, 1, "M", "auto", (64, 128), (64, 127))
    assert uf.architecture == {**csft["architecture"], "placement": "crop"}
    assert uf.tracking.run_name == "forecast_uf/csft/ETTh1/I64-128/crop/1"
    for settings in (main, variant, uf):
        assert pretrain_job.PretrainSettings.from_dict(settings.to_dict()) == settings
        assert set(settings.params()) == {"job", "architecture", "pretraining"}


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("job", "lookback"), -1, "PretrainJob.lookback: expected an integer >= 1, got -1"),
        (("job", "seed"), 1.5, "PretrainJob.seed"),
        (("job", "interval"), [64], "PretrainJob.interval: expected 2 items"),
        (("job", "device"), "tpu", "PretrainJob.device"),
        (("pretraining", "epoch"), 1, "PretrainSettings.pretraining: expected keys among"),
        (("pretraining",), None, "PretrainSettings.pretraining: expected a mapping"),
        (("architecture",), "csft", "PretrainSettings.architecture: expected a mapping"),
        (("placement",), "crop", "PretrainSettings: unknown field(s) ['placement']"),
    ],
)
def test_bad_pretraining_settings_are_refused_naming_the_field(config, path, value, named):
    wildcards = {
        "model": "csft",
        "dataset": "ETTh1",
        "low": "64",
        "high": "128",
        "placement": "crop",
        "seed": "1",
    }
    values = pretrain_job.resolve(config, wildcards).to_dict()
    with_value(values, path, value)
    with pytest.raises(ValueError, match=re.escape(named)):
        pretrain_job.PretrainSettings.from_dict(values)
