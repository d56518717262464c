"""The forecasting loop on synthetic data: early stopping, best-epoch restore, seeding, predict."""

import copy

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from csft import metrics
from csft.data.ett import ForecastWindows
from csft.models.registry import build_model
from csft.training.forecast import Forecasts, TrainingConfig, predict, train
from csft.training.seeding import seed_everything

LOOKBACK, HORIZON, CHANNELS = 48, 12, 2


def windows(values: np.ndarray, start: int, stop: int) -> ForecastWindows:
    """Every stride-1 window inside rows [start, stop)."""
    starts = np.arange(start, stop - LOOKBACK - HORIZON + 1)
    return ForecastWindows(values, starts, LOOKBACK, HORIZON)


@pytest.fixture(scope="module")
def data(noisy_sines) -> tuple[ForecastWindows, ForecastWindows]:
    values = noisy_sines(700)
    return windows(values, 0, 500), windows(values, 500 - LOOKBACK, 700)


def model_for(seed: int) -> tuple[torch.nn.Module, torch.Generator]:
    generator = seed_everything(seed)
    model = build_model(
        "dlinear", {"kernel_size": 5}, lookback=LOOKBACK, horizon=HORIZON, n_channels=CHANNELS
    )
    return model, generator


def fit(seed: int, data, **recipe) -> tuple[torch.nn.Module, list[dict]]:
    model, generator = model_for(seed)
    config = TrainingConfig(**{"batch_size": 32, "epochs": 3, "learning_rate": 0.01, **recipe})
    return model, train(model, *data, config, generator)


class ShiftedTargets(Dataset):
    """Windows whose targets can be moved by `shift`, to make validation loss jump on demand."""

    def __init__(self, inner: Dataset):
        self.inner = inner
        self.shift = 0.0

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i):
        x, y = self.inner[i]
        return x, y + self.shift


def test_history_rows_and_on_epoch(data):
    seen = []
    model, generator = model_for(0)
    config = TrainingConfig(batch_size=32, epochs=4, patience=10, learning_rate=0.01)
    history = train(model, *data, config, generator, on_epoch=lambda e, r: seen.append((e, r)))
    assert len(history) == 4  # patience never reached: every epoch runs
    assert [e for e, _ in seen] == [1, 2, 3, 4]
    assert [r for _, r in seen] == history
    for row in history:
        assert set(row) == {"train_loss", "val_loss", "lr"}
        assert all(np.isfinite(v) for v in row.values())
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # it learns the sines


def test_early_stops_patience_epochs_after_the_best_and_restores_it(data):
    train_windows, val_inner = data
    val = ShiftedTargets(val_inner)
    model, generator = model_for(0)
    states = {}

    def on_epoch(epoch, row):
        states[epoch] = copy.deepcopy(model.state_dict())
        if epoch == 2:
            val.shift = 100.0  # every later validation loss is far worse

    config = TrainingConfig(
        batch_size=32, epochs=10, patience=2, learning_rate=0.01, lr_schedule="constant"
    )
    history = train(model, train_windows, val, config, generator, on_epoch=on_epoch)
    losses = [row["val_loss"] for row in history]
    best_epoch = int(np.argmin(losses)) + 1
    assert best_epoch in (1, 2)
    assert all(loss > 1000 for loss in losses[2:])
    assert len(history) == best_epoch + config.patience < config.epochs
    # The returned model holds the best epoch's weights, not the last epoch's.
    final = model.state_dict()
    for key, value in final.items():
        assert torch.equal(value, states[best_epoch][key]), key
    assert any(not torch.equal(v, states[len(history)][k]) for k, v in final.items())
    val.shift = 0.0
    scored = predict(model, val, batch_size=64)
    assert metrics.mse(scored.pred, scored.true) == pytest.approx(min(losses[:2]), abs=1e-6)


def test_stops_when_validation_cannot_improve(data):
    # A learning rate this small cannot move float32 weights: the validation loss repeats
    # exactly, epoch 1 stays the best, and training stops `patience` epochs later.
    for patience in (1, 3):
        model, history = fit(
            0, data, epochs=10, patience=patience, learning_rate=1e-30, lr_schedule="constant"
        )
        assert len(history) == 1 + patience
        assert len({row["val_loss"] for row in history}) == 1


def test_stop_rule_holds_on_an_ordinary_run(data):
    model, history = fit(0, data, epochs=8, patience=2, learning_rate=0.05)
    losses = [row["val_loss"] for row in history]
    assert len(history) <= 8
    best = int(np.argmin(losses))
    if len(history) < 8:
        assert len(history) - 1 - best == 2  # stopped exactly `patience` epochs after the best
    forecasts = predict(model, data[1], batch_size=50)
    assert metrics.mse(forecasts.pred, forecasts.true) == pytest.approx(min(losses), abs=1e-6)


def test_same_seed_same_run_other_seed_other_run(data):
    model_a, history_a = fit(7, data)
    model_b, history_b = fit(7, data)
    model_c, history_c = fit(8, data)
    assert history_a == history_b
    assert history_a != history_c
    pred_a = predict(model_a, data[1], 64).pred
    assert np.array_equal(pred_a, predict(model_b, data[1], 64).pred)
    assert not np.allclose(pred_a, predict(model_c, data[1], 64).pred)


@pytest.mark.parametrize("batch_size", [1, 10, 32, 1000])
def test_predict_returns_every_window_in_order(data, batch_size):
    val = data[1]
    n = len(val)
    assert n % 32 != 0 and n % 10 != 0  # not a multiple of the batch sizes used
    model, _ = model_for(0)
    forecasts = predict(model, val, batch_size)
    assert isinstance(forecasts, Forecasts)
    assert forecasts.pred.shape == forecasts.true.shape == (n, HORIZON, CHANNELS)
    expected_true = np.stack([val[i][1].numpy() for i in range(n)])
    np.testing.assert_array_equal(forecasts.true, expected_true)
    with torch.no_grad():
        np.testing.assert_allclose(forecasts.pred[-1], model(val[n - 1][0][None])[0], atol=1e-6)
    assert not model.training  # predict leaves the model in eval mode


def test_halve_every_epoch_and_constant_schedules(data):
    _, history = fit(0, data, epochs=4, patience=10, learning_rate=0.008)
    assert [row["lr"] for row in history] == pytest.approx([0.008, 0.004, 0.002, 0.001])
    _, history = fit(0, data, epochs=3, patience=10, learning_rate=0.008, lr_schedule="constant")
    assert [row["lr"] for row in history] == pytest.approx([0.008] * 3)


def test_dataset_smaller_than_one_batch_raises(noisy_sines):
    values = noisy_sines(LOOKBACK + HORIZON + 9)  # 10 windows
    small = windows(values, 0, len(values))
    assert len(small) == 10
    model, generator = model_for(0)
    with pytest.raises(ValueError, match="10"):
        train(model, small, small, TrainingConfig(batch_size=32), generator)


def test_unknown_schedule_and_optimizer_raise():
    with pytest.raises(ValueError, match="linear_warmup"):
        TrainingConfig(lr_schedule="linear_warmup")
    with pytest.raises(ValueError, match="sgd"):
        TrainingConfig(optimizer="sgd")


def test_patchtst_type3_reproduces_the_official_learning_rates():
    from csft.training.forecast import patchtst_type3

    # Official loop: OneCycleLR(max_lr=lr) sets lr/25 before epoch 1; then type3 after each
    # epoch e (from 1) sets lr if e < 3 else lr * 0.9 ** (e - 3) for epoch e + 1.
    official = [1 / 25] + [1.0 if e < 3 else 0.9 ** (e - 3) for e in range(1, 12)]
    assert [patchtst_type3(e) for e in range(1, 13)] == pytest.approx(official)


def test_onecycle_steps_per_batch_and_peaks_at_pct_start():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    config = TrainingConfig(learning_rate=0.01, epochs=4, lr_schedule="onecycle", pct_start=0.25)
    from csft.training.forecast import make_optimizer

    optimizer, scheduler = make_optimizer(model.parameters(), config, steps_per_epoch=10)
    rates = []
    for _ in range(40):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.01 / 25)
    assert max(rates) == pytest.approx(0.01, rel=1e-3) and rates.index(max(rates)) in (9, 10)
    assert rates[-1] < rates[0]
