"""The channels question: the synthetic sets' planted coupling (and its absence in the control),
the channel-mixing switch, the stage's config checks and verdicts, and the stage run through
the DAG with a config change only."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient
from tiny_study import (
    CSFT_LOOKBACK,
    HORIZON,
    REPO,
    forecast_only_config,
    run_snakemake,
    tiny_config,
)

from csft.config import channels_arm_settings, channels_encoder_arm, check_config
from csft.data import synthetic
from csft.data.custom import CustomDataset
from csft.jobs.pretrain import PretrainJob, encoder_settings
from csft.models.registry import build_model
from csft.report import channels

SPEC = synthetic.SyntheticSpec()


@pytest.fixture(scope="module")
def sets():
    return {kind: synthetic.generate(kind, SPEC) for kind in synthetic.KINDS}


def test_the_coupling_is_recoverable_at_the_planted_lags(sets):
    values = sets["synthetic_coupled"]
    assert values.shape == (SPEC.rows, 1 + len(SPEC.lags))
    for k, lag in enumerate(SPEC.lags, start=1):
        assert synthetic.lagged_correlation(values[:, 0], values[:, k], lag) > 0.85
        # ... at the planted lag only: no instantaneous link, and the channel's own past one
        # horizon back says next to nothing about it (its future is in the driver's past).
        assert abs(synthetic.lagged_correlation(values[:, 0], values[:, k], 0)) < 0.2
        assert abs(synthetic.lagged_correlation(values[:, k], values[:, k], min(SPEC.lags))) < 0.2


def test_the_control_has_the_same_marginals_and_no_coupling(sets):
    control, coupled = sets["synthetic_independent"], sets["synthetic_coupled"]
    for k, lag in enumerate(SPEC.lags, start=1):
        assert abs(synthetic.lagged_correlation(control[:, 0], control[:, k], lag)) < 0.2
        assert abs(synthetic.lagged_correlation(control[:, 0], control[:, k], 0)) < 0.2
    assert np.allclose(control.std(axis=0), coupled.std(axis=0), rtol=0.25)
    assert np.allclose(control.mean(axis=0), 0, atol=1.0)


def test_the_files_are_deterministic_and_read_as_a_custom_dataset(tmp_path):
    small = synthetic.SyntheticSpec(rows=500, lags=(24, 48))
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    synthetic.write(first, "synthetic_coupled", small)
    synthetic.write(second, "synthetic_coupled", small)
    assert first.read_bytes() == second.read_bytes()
    values = CustomDataset("synthetic_coupled", str(first)).read()
    assert values.shape == (500, 3) and values.dtype == np.float32
    assert pd.read_csv(first).columns.tolist() == ["date", "c0", "c1", "c2"]
    with pytest.raises(ValueError, match="unknown synthetic set"):
        synthetic.generate("synthetic_other", small)


def test_mixing_lets_a_channel_read_the_others_and_independence_does_not():
    x = torch.randn(4, 96, 3, generator=torch.Generator().manual_seed(0))
    moved = x.clone()
    moved[:, :, 0] += 1.0 + torch.randn(4, 96, generator=torch.Generator().manual_seed(1))
    for mixing in (False, True):
        torch.manual_seed(0)
        model = build_model(
            "csft", {"channel_mixing": mixing}, lookback=96, horizon=24, n_channels=3
        ).eval()
        with torch.no_grad():
            change = (model(moved) - model(x))[:, :, 1:].abs().max().item()
        assert (change > 1e-4) == mixing, (mixing, change)


def test_arms_change_their_settings_and_mixing_shares_the_encoder():
    config = {"questions": {"channels": {"arms": [
        {"name": "independent"},
        {"name": "mixing", "settings": {"architecture.channel_mixing": True,
                                        "architecture.individual_head": True}},
        {"name": "wide", "settings": {"architecture.d_model": 32}},
    ]}}}  # fmt: skip
    base = {"architecture": {"channel_mixing": False, "d_model": 16}, "training": {}}
    assert channels_arm_settings(config, "mixing", base)["architecture"]["channel_mixing"] is True
    assert channels_arm_settings(config, "independent", base) == base
    assert channels_encoder_arm(config, "mixing") == "independent"
    assert channels_encoder_arm(config, "wide") == "wide"
    job = PretrainJob("ETTh1", 512, 1, "M", "cpu")
    assert encoder_settings(job, {"channel_mixing": True, "d_model": 16}, 7) == encoder_settings(
        job, {"channel_mixing": False, "d_model": 16}, 7
    )


def enabled(tmp_path, **block):
    config = {
        **forecast_only_config(tmp_path, "c/"),
        "ett": {"datasets": ["ETTh1"], "features": "M"},
        "budget": "tiny",
    }
    from snakemake.utils import update_config, validate

    full = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(full, config)
    channels_block = {"enabled": True, "seeds": [1], **block}
    update_config(full, {"questions": {"channels": channels_block}})
    validate(full, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return full


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"synthetic": {"lags": [48]}}, r"lags: \[48\] must lie in \[horizon, look-back\]"),
        ({"arms": [{"name": "a"}, {"name": "b", "settings": {"architecture.no_such": 1}}]},
         "names no setting"),
        ({"arms": [{"name": "a"}, {"name": "b", "settings": {"architecture.channel_mixing": 1}}]},
         "not of the type"),
        ({"arms": [{"name": "a"}, {"name": "a"}]}, "two arms share a name"),
        ({"datasets": ["NoSuchSet"]}, "unknown dataset .NoSuchSet."),
    ],
)  # fmt: skip
def test_a_bad_stage_config_fails_before_any_job(tmp_path, block, message):
    with pytest.raises(ValueError, match=message):
        check_config(enabled(tmp_path, **block))


def test_the_synthetic_sets_become_custom_datasets_only_while_enabled(tmp_path):
    config = enabled(tmp_path)
    check_config(config)
    assert set(config["custom_datasets"]) == set(synthetic.KINDS)
    assert config["custom_datasets"]["synthetic_coupled"]["path"].endswith(
        "/synthetic/synthetic_coupled.csv"
    )
    off = enabled(tmp_path, enabled=False)
    check_config(off)
    assert not off["custom_datasets"]


ARMS = {
    "independent": {},
    "individual": {"architecture.individual_head": True},
    "mixing": {"architecture.channel_mixing": True, "architecture.individual_head": True},
}


def scores(shift: float, n_seeds: int) -> pd.DataFrame:
    """Test MSE of three arms on both synthetic sets: `individual` as `independent`, `mixing`
    shifted by `shift` (+ seeded noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(n_seeds):
        base = 0.5 + 0.01 * rng.standard_normal()
        for arm, mse in (("independent", base), ("individual", base), ("mixing", base + shift)):
            for dataset in ("synthetic_coupled", "synthetic_independent"):
                rows.append({"arm": arm, "dataset": dataset, "horizon": 96, "seed": seed,
                             "test_mse": mse + 0.001 * rng.standard_normal(),
                             "test_mae": mse})  # fmt: skip
    return pd.DataFrame(rows)


def test_the_verdict_is_computed_from_paired_seeds():
    table = channels.channels_table(scores(-0.1, 8), ARMS)
    assert list(zip(table.arm, table.versus, strict=True))[:3] == [
        ("individual", "independent"),
        ("mixing", "independent"),
        ("mixing", "individual"),
    ]
    mixing = table[table.arm == "mixing"]
    assert (mixing.verdict == "mixing better").all() and (table.seeds == 8).all()
    assert mixing.mixing.all() and not table[table.arm == "individual"].mixing.any()
    assert table[table.arm == "individual"].verdict.str.startswith("no detectable").all()
    text = channels.table_markdown(table, "tiny")
    assert "Expected: mixing can use the planted coupling" in text and "; met." in text
    worse = channels.channels_table(scores(0.1, 8), ARMS)
    assert (worse[worse.arm == "mixing"].verdict == "mixing worse").all()
    assert "not shown" in channels.paragraph(worse)
    three = channels.channels_table(scores(-0.1, 3), ARMS)
    assert three.verdict.str.startswith("insufficient evidence (3 pairs").all()  # p >= 0.25
    two = channels.channels_table(scores(-0.1, 2), ARMS)
    assert two.verdict.str.startswith("insufficient evidence (2 seeds").all()


def test_the_stage_runs_through_the_dag_with_a_config_change_only(tmp_path, mirror):
    tiny = tiny_config(tmp_path)
    config = forecast_only_config(
        tmp_path,
        "c/",
        budget="tiny",
        ett={"datasets": ["ETTh1"], "features": "M"},
        models={"csft": tiny["models"]["csft"]},
        questions={
            "channels": {
                "enabled": True,
                "seeds": [1],
                "datasets": ["synthetic_coupled"],  # ETT's path is every other stage's
                "horizon": HORIZON,
                "lookback": CSFT_LOOKBACK,
                "synthetic": {"rows": 1200, "lags": [HORIZON, 2 * HORIZON]},
                "arms": [{"name": "independent"}, {"name": "mixing", "settings": ARMS["mixing"]}],
            }
        },
    )
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = tmp_path / "results" / "tables" / "channels.md"
    result = run_snakemake(str(target), "--configfile", str(configfile), mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results"
    table = pd.read_csv(results / "tables" / "channels.csv")
    assert table.dataset.tolist() == ["synthetic_coupled"]
    assert (table.arm == "mixing").all() and (table.seeds == 1).all()
    assert table.verdict.str.startswith("insufficient evidence").all()  # one seed
    assert (results / "figures" / "channels.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "data" / "synthetic" / "synthetic_coupled.csv").is_file()
    # The mixing arm fine-tunes the independent arm's encoder: one pretraining per cell.
    assert [p.name for p in (results / "pretrained" / "channels").iterdir()] == ["independent"]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("c/questions/channels").experiment_id])
    assert len(runs) == 2
    mixing = {
        r.info.run_name.split("/")[0]: {
            v for k, v in r.data.params.items()
            if k.endswith("architecture.channel_mixing") and not k.startswith("config.")
        }
        for r in runs
    }  # fmt: skip
    assert mixing == {"independent": {"False"}, "mixing": {"True"}}


def test_the_cost_prediction_knows_the_stage_before_its_files_exist():
    from csft import cost

    config = cost.load_config(["config/channels_check.yaml"])
    w = {"arm": "mixing", "dataset": "synthetic_coupled", "horizon": "96", "seed": "2021"}
    (work,) = cost.job_work(config, "train_channels", w)
    assert work.probe.channels == 4 and work.steps == 10 * 100  # epochs x batches
    assert '"channel_mixing": true' in work.probe.architecture
    pre = {"group": "channels", "name": "independent", "dataset": "ETTh1", "lookback": "512",
           "seed": "2021"}  # fmt: skip
    (work,) = cost.job_work(config, "pretrain_encoder", pre)
    assert work.probe.channels == 7 and work.steps == 2 * 50
