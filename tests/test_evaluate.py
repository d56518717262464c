"""A saved forecaster rescored without retraining (python -m csft.evaluate) gets its job's
metrics exactly; a data file that is not the one it was trained on is refused. (Saved
classifiers: tests/test_contract.py, test_workflow.py and test_custom_classification.py; their
refusals here.)"""

import json

import pytest

from csft import evaluate
from csft.data.download import sha256_of
from csft.data.ett import ETTSeries
from csft.jobs import forecast as forecast_job

TRAINING = {"batch_size": 16, "epochs": 1, "patience": 1, "max_batches_per_epoch": 3}


@pytest.mark.parametrize(
    ("model", "lookbacks", "evals", "architecture"),
    [
        ("dlinear", (48, 49), (48,), {}),
        ("csft", (64, 128), (64, 100, 127), {"d_model": 8, "n_heads": 2, "placement": "pad_mask"}),
    ],
)
def test_a_saved_model_rescores_to_its_jobs_metrics(
    tmp_path, mirror, capsys, model, lookbacks, evals, architecture
):
    csv = mirror / "ETT-small" / "ETTh1.csv"
    job = forecast_job.ForecastJob(model, "ETTh1", 24, 0, lookbacks, evals)
    series = ETTSeries.load(csv, "ETTh1", job.max_lookback)
    result = forecast_job.run(job, series, architecture, TRAINING)
    path = tmp_path / "model.pt"
    forecast_job.save_model(path, result.model, job, TRAINING, sha256_of(csv))
    rescored = evaluate.evaluate(path, mirror)
    trained = [{k: v for k, v in r.items() if k not in ("best_val_loss", "epochs_run")}
               for r in result.records]  # fmt: skip
    assert rescored == trained  # exactly: the same weights through the same scoring
    assert evaluate.main(["--path", str(path), "--data-dir", str(mirror)]) == 0
    assert json.loads(capsys.readouterr().out) == trained


def test_another_data_file_is_refused(tmp_path, mirror):
    csv = mirror / "ETT-small" / "ETTh1.csv"
    job = forecast_job.ForecastJob("dlinear", "ETTh1", 24, 0, (48, 49), (48,))
    result = forecast_job.run(job, ETTSeries.load(csv, "ETTh1", 48), {}, TRAINING)
    path = tmp_path / "model.pt"
    forecast_job.save_model(path, result.model, job, TRAINING, "0" * 64)
    with pytest.raises(ValueError, match="is not the file .* was trained on"):
        evaluate.evaluate(path, mirror)
    with pytest.raises(FileNotFoundError, match="ETTh1.csv"):
        evaluate.evaluate(path, tmp_path)
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(Exception, match="junk.pt|weights|pickle|zip"):
        evaluate.evaluate(tmp_path / "junk.pt", mirror)


def test_a_classifier_that_cannot_save_itself_is_refused_by_name(tmp_path):
    from csft.classifiers.base import Classifier
    from csft.jobs import classify_run
    from csft.jobs.classify import ClassifyJob
    from csft.jobs.common import Tracking

    job = ClassifyJob("dtw_1nn", "Toy", "native", 1)
    data = classify_run.DataProtocol("archive", 64, "resample", "interpolate", 0.25)
    settings = classify_run.ClassifySettings(job, {"window": 0.1}, data, Tracking("", "", ""))
    path = tmp_path / "model.pt"
    classify_run.save_classifier(path, Classifier(job, {}), settings, {}, None)
    with pytest.raises(ValueError, match=r"model.pt: the classifier was not saved \(Classifier "
                       r"does not define fitted_state\(\)\)"):  # fmt: skip
        evaluate.evaluate(path)


def test_an_estimator_holding_an_untrusted_type_is_not_loaded():
    from sklearn.preprocessing import FunctionTransformer

    from csft.classifiers import persist

    packed = persist.pack(FunctionTransformer(json.dumps))  # would call json.dumps on load
    with pytest.raises(ValueError, match=r"here: holds types outside .*json.dumps.*refusing"):
        persist.unpack(packed, "here")
    trusted = persist.unpack(persist.pack(FunctionTransformer()), "here")
    assert isinstance(trusted, FunctionTransformer)
