"""The sensitivity stage: CSFT's readings of the paper, one setting at a time from the default,
checked before any job, paired against the default over the same seeds and cells, and run
through the DAG with a config change only."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from tiny_study import (
    CSFT_LOOKBACK,
    HORIZON,
    forecast_only_config,
    resolved_tiny_config,
    run_snakemake,
    tiny_config,
)

from csft.config import check_sensitivity, reading_settings, sensitivity_readings, with_setting
from csft.report import sensitivity


def with_axes(tmp_path, axes, **block):
    config = resolved_tiny_config(tmp_path)
    config["sensitivity"] = {
        "forecast": {"datasets": ["ETTh1"], "horizons": [HORIZON], "lookback": CSFT_LOOKBACK},
        "classify": {"datasets": ["Chinatown"]},
        "axes": axes,
        **block,
    }
    return config


def test_readings_are_named_by_key_and_value_and_change_one_setting(tmp_path):
    axes = [
        {"path": "architecture.embed_norm", "values": [False]},
        {"path": "pretraining.ssl.mask_ratio", "values": [0.4, 0.2]},
    ]
    config = with_axes(tmp_path, axes)
    check_sensitivity(config)
    readings = sensitivity_readings(config)
    assert list(readings) == ["default", "embed_norm=false", "mask_ratio=0.4", "mask_ratio=0.2"]
    base = {"architecture": {"embed_norm": True, "d_model": 8}, "pretraining": {"epochs": 1}}
    changed = reading_settings(config, "mask_ratio=0.4", base)
    assert changed["pretraining"] == {"epochs": 1, "ssl": {"mask_ratio": 0.4}}
    assert base == {"architecture": {"embed_norm": True, "d_model": 8},
                    "pretraining": {"epochs": 1}}  # fmt: skip
    assert reading_settings(config, "default", base) == base
    with pytest.raises(ValueError, match="no sensitivity reading 'd_model=4'"):
        reading_settings(config, "d_model=4", base)
    assert with_setting({"a": {"b": 1}}, "a.b", 2) == {"a": {"b": 2}}


@pytest.mark.parametrize(
    ("axis", "message"),
    [
        ({"path": "architecture.no_such_key", "values": [1]},
         r"sensitivity.axes\[0\].path: 'architecture.no_such_key' names no setting"),
        ({"path": "pretraining.ssl.mask_ratio", "values": [True]},
         r"sensitivity.axes\[0\].values: True is not of the type of pretraining.ssl.mask_ratio"),
        ({"path": "architecture.n_heads", "values": [0]},
         r"sensitivity.axes\[0\] \((forecast|classify)\).*n_heads"),
        ({"path": "architecture.fusion", "values": ["a/b"]},
         r"makes the reading name 'fusion=a/b'"),
    ],
)  # fmt: skip
def test_a_bad_axis_fails_before_any_job_naming_it(tmp_path, axis, message):
    with pytest.raises(ValueError, match=message):
        check_sensitivity(with_axes(tmp_path, [axis]))


def test_axes_need_cells_and_known_sets(tmp_path):
    axes = [{"path": "architecture.embed_norm", "values": [False]}]
    with pytest.raises(ValueError, match="set sensitivity.forecast.datasets or"):
        check_sensitivity(with_axes(tmp_path, axes, forecast={}, classify={}))
    with pytest.raises(ValueError, match=r"\['NoSuchSet'\] are neither UCR archive sets"):
        check_sensitivity(with_axes(tmp_path, axes, classify={"datasets": ["NoSuchSet"]}))


def scores(shift: float, noise: float, n_seeds: int = 8) -> pd.DataFrame:
    """ETT MSE of the default and of one reading that adds `shift` (+ seeded noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(n_seeds):
        base = 0.4 + 0.01 * rng.standard_normal()
        rows.append({"task": "ETT MSE", "reading": "default", "cell": "ETTh1 H96",
                     "seed": seed, "score": base})  # fmt: skip
        rows.append({"task": "ETT MSE", "reading": "x=1", "cell": "ETTh1 H96", "seed": seed,
                     "score": base + shift + noise * rng.standard_normal()})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("shift", "effect"), [(-0.05, "better"), (0.05, "worse"), (0.0, "no detectable difference")]
)
def test_a_reading_is_judged_on_its_paired_difference_from_the_default(shift, effect):
    table = sensitivity.sensitivity_table(scores(shift, noise=0.005))
    (row,) = table.itertuples()
    assert row.n_pairs == 8 and row.difference == pytest.approx(shift, abs=0.006)
    assert row.effect.startswith(effect)
    text = sensitivity.table_markdown(table, "check")
    assert "0.390-0.440" in text  # the paper's range, beside ours
    assert ("moves with x=1" in text) == (effect != "no detectable difference")


def test_a_reading_the_protocol_never_sees_is_not_applicable_and_not_counted():
    """A fine-tuning setting cannot reach the SVM probe (it reads the default's encoder): its
    scores equal the default's in every pair, which is no measured absence of an effect."""
    same = scores(0.0, noise=0.0)
    moved = scores(0.05, noise=0.005).assign(reading=lambda d: d.reading.replace("x=1", "y=2"))
    table = sensitivity.sensitivity_table(pd.concat([same, moved[moved.reading == "y=2"]]))
    effects = dict(zip(table.reading, table.effect, strict=True))
    assert effects == {"x=1": sensitivity.NOT_APPLICABLE, "y=2": "worse"}
    text = sensitivity.paragraph(table)
    assert "moves with y=2 (worse, +0.04" in text and "(1 tried)" in text
    assert "x=1" not in text
    sensitivity.tornado(table)  # the not-applicable reading is left out, no error


@pytest.mark.parametrize(
    ("offset", "where"), [(0.0, "within"), (-0.1, "beyond"), (0.1, "short of")]
)
def test_the_paragraph_says_where_the_best_mean_falls_against_the_paper(offset, where):
    """The paper's ETT range is 0.390-0.440; the default scores about 0.396 before `offset`,
    the reading is worse."""
    frame = scores(0.02, noise=0.001).assign(score=lambda d: d.score + offset)
    text = sensitivity.paragraph(sensitivity.sensitivity_table(frame))
    assert f"is {where} the paper's 0.390-0.440" in text and "(the default)" in text


def test_two_seeds_are_too_few_for_an_effect():
    (row,) = sensitivity.sensitivity_table(scores(-0.05, 0.005, n_seeds=2)).itertuples()
    assert row.effect.startswith("insufficient evidence (2 pairs: the exact Wilcoxon test")


def test_the_stage_runs_through_the_dag_with_a_config_change_only(tmp_path, mirror):
    tiny = tiny_config(tmp_path)
    config = forecast_only_config(
        tmp_path,
        "s/",
        ett={"datasets": ["ETTh1"], "features": "M"},
        ucr={"datasets": ["Chinatown"]},
        models={"csft": tiny["models"]["csft"]},
        classify={"models": ["csft"], "csft": tiny["classify"]["csft"]},
        sensitivity={
            "seeds": [1],
            "forecast": {"datasets": ["ETTh1"], "horizons": [HORIZON], "lookback": CSFT_LOOKBACK},
            "classify": {"datasets": ["Chinatown"]},
            "axes": [
                {"path": "architecture.embed_norm", "values": [False]},
                {"path": "training.learning_rate", "values": [0.003]},
            ],
        },
    )
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    target = tmp_path / "results" / "tables" / "sensitivity.md"
    result = run_snakemake(str(target), "--configfile", str(configfile), mirror=mirror)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results"
    table = pd.read_csv(results / "tables" / "sensitivity.csv")
    assert sorted(zip(table.task, table.reading, strict=True)) == sorted(
        (task, reading)
        for task in sensitivity.TASKS
        for reading in ("embed_norm=false", "learning_rate=0.003")
    )
    assert (table.n_pairs == 1).all()  # one seed, one cell each
    assert (results / "figures" / "sensitivity.png").read_bytes()[:4] == b"\x89PNG"
    # A training-only reading fine-tunes the default's encoder; an architecture one its own.
    pretrained = sorted(p.name for p in (results / "pretrained" / "sensitivity").iterdir())
    assert pretrained == ["default", "embed_norm=false"]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("s/sensitivity").experiment_id])
    run = next(r for r in runs if r.info.run_name.startswith("embed_norm=false/ETTh1/"))
    params = run.data.params
    job = {v for k, v in params.items() if k.endswith("architecture.embed_norm")
           and not k.startswith("config.")}  # fmt: skip
    assert job == {"False"}  # the reading's setting, logged with the run
    assert params["config.models.csft.architecture.embed_norm"] == "True"  # beside the default
    record = json.loads(
        next(
            (results / "sensitivity/classify/embed_norm=false/Chinatown").glob(
                "*/seed1/metrics.json"
            )
        ).read_text()  # fmt: skip
    )
    assert {r["method"] for r in record} == {"csft/finetune", "csft/svm"}
