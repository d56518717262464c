"""Per-epoch checkpoints: a loop killed after any epoch resumes to the uninterrupted result."""

import numpy as np
import pytest
import torch

from csft.data.ett import ForecastWindows
from csft.models.registry import build_model
from csft.training.checkpoint import Checkpoint
from csft.training.forecast import TrainingConfig, train
from csft.training.pretrain import PretrainConfig, pretrain
from csft.training.seeding import seed_everything

LOOKBACK, HORIZON, CHANNELS = 64, 8, 2
ARCHITECTURE = {"d_model": 8, "n_heads": 2, "dropout": 0.3}  # dropout: the global RNG matters
RECIPE = TrainingConfig(
    batch_size=16, epochs=4, patience=4, learning_rate=0.01, lr_schedule="cosine"
)
PRETRAIN = PretrainConfig(epochs=3, batch_size=16, patience=3)


class Killed(Exception):
    """Stands in for SIGKILL: the loop stops in the middle of an epoch's bookkeeping."""


@pytest.fixture(scope="module")
def data(noisy_sines):
    values = noisy_sines(600)

    def windows(start, stop):
        return ForecastWindows(
            values, np.arange(start, stop - LOOKBACK - HORIZON + 1), LOOKBACK, HORIZON
        )

    return windows(0, 400), windows(400 - LOOKBACK, 600)


def fresh(seed=3):
    generator = seed_everything(seed)
    model = build_model(
        "csft", ARCHITECTURE, lookback=LOOKBACK, horizon=HORIZON, n_channels=CHANNELS
    )
    return model, generator


def killer(at_epoch):
    def on_epoch(epoch, row):
        if epoch == at_epoch:
            raise Killed

    return on_epoch


def train_with(data, path, settings, on_epoch=lambda epoch, row: None):
    """A fresh model (same seed) trained with the checkpoint at `path`: (model, history)."""
    model, generator = fresh()
    history = train(
        model, *data, RECIPE, generator, on_epoch, checkpoint=Checkpoint(path, settings)
    )
    return model, history


def weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("kill_at", [1, 3])
def test_training_resumes_to_the_uninterrupted_result(data, tmp_path, kill_at):
    model, generator = fresh()
    expected = train(model, *data, RECIPE, generator)
    expected_weights = weights(model)

    path, settings = tmp_path / "job.pt", {"job": "x"}
    with pytest.raises(Killed):
        train_with(data, path, settings, killer(kill_at))
    saved = Checkpoint(path, settings).phase("train")  # the last finished epoch, if any
    assert (saved["loop"]["epoch"] if saved else 0) == kill_at - 1

    replayed = []
    model, history = train_with(data, path, settings, lambda epoch, row: replayed.append(epoch))
    assert history == expected
    assert replayed == list(range(1, len(expected) + 1))  # saved rows replayed, then new ones
    assert_same(weights(model), expected_weights)


def test_pretraining_resumes_to_the_uninterrupted_result(data, tmp_path):
    model, generator = fresh()
    expected = pretrain(model.encoder, *data, PRETRAIN, generator)
    expected_weights = weights(model.encoder)

    path, settings = tmp_path / "job.pt", {"job": "x"}
    model, generator = fresh()
    with pytest.raises(Killed):
        pretrain(
            model.encoder,
            *data,
            PRETRAIN,
            generator,
            killer(3),
            checkpoint=Checkpoint(path, settings),
        )
    model, generator = fresh()
    history = pretrain(
        model.encoder, *data, PRETRAIN, generator, checkpoint=Checkpoint(path, settings)
    )
    assert history == expected
    assert_same(weights(model.encoder), expected_weights)


def test_finished_phase_is_not_run_again(data, tmp_path):
    path, settings = tmp_path / "job.pt", {"job": "x"}
    _, first = train_with(data, path, settings)
    state = Checkpoint(path, settings).phase("train")
    assert state["loop"]["done"] and state["loop"]["epoch"] == len(first)
    calls = []
    _, again = train_with(data, path, settings, lambda e, r: calls.append(e))
    assert again == first and calls == list(range(1, len(first) + 1))  # replayed only


def test_checkpoint_of_other_settings_is_ignored(data, tmp_path):
    path = tmp_path / "job.pt"
    train_with(data, path, {"lr": 0.01})
    assert Checkpoint(path, {"lr": 0.02}).phase("train") is None
    assert Checkpoint(path, {"lr": 0.01}).phase("train") is not None


def test_checkpoint_file_is_written_atomically_and_removed(data, tmp_path):
    path = tmp_path / "deep" / "job.pt"
    checkpoint = Checkpoint(path, {})
    model, generator = fresh()
    train(model, *data, RECIPE, generator, checkpoint=checkpoint)
    assert [p.name for p in path.parent.iterdir()] == ["job.pt"]  # no .part left behind
    checkpoint.remove()
    assert not path.exists()


class Payload:
    """Unpickling this would run code a checkpoint file must never run."""

    def __reduce__(self):
        return (print, ("arbitrary code ran",))


def test_checkpoints_load_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"fingerprint": "x", "phases": {"train": Payload()}}, path)
    with pytest.raises(Exception, match="[Ww]eights only load failed|Unsupported global"):
        Checkpoint(path, {})
