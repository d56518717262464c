"""The pretraining loop on tiny synthetic windows: learning, restore, seeding, batch caps."""

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from csft.data.ett import ForecastWindows
from csft.models.csft import CSFTConfig, CSFTEncoder
from csft.models.objectives import ReconstructionDecoders, SSLConfig
from csft.training import pretrain as pretrain_module
from csft.training.pretrain import PretrainConfig, evaluate, pretrain
from csft.training.seeding import seed_everything

LOOKBACK, HORIZON, CHANNELS = 64, 8, 2
CONFIG = CSFTConfig(
    lookback=LOOKBACK, horizon=HORIZON, n_channels=CHANNELS, d_model=8, n_heads=2
)  # L = 2
TERMS = ["recon_l0", "recon_l1", "recon_l2", "recon_mean", "independence", "total"]


def windows(values: np.ndarray, start: int, stop: int) -> ForecastWindows:
    starts = np.arange(start, stop - LOOKBACK - HORIZON + 1)
    return ForecastWindows(values, starts, LOOKBACK, HORIZON)


class Counted(Dataset):
    """Counts the windows read, and can swap in fixed white noise to make a split look worse."""

    def __init__(self, inner: Dataset):
        self.inner = inner
        self.reads = 0
        self.noisy = False
        self.noise = torch.randn(len(inner), LOOKBACK, CHANNELS, generator=torch.Generator())

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int):
        self.reads += 1
        x, y = self.inner[i]
        return (self.noise[i] if self.noisy else x), y


@pytest.fixture
def data(noisy_sines) -> tuple[Counted, Counted]:
    values = noisy_sines(460)
    # 250 training windows; 91 validation windows (not a multiple of the batch size)
    return Counted(windows(values, 0, 321)), Counted(windows(values, 321 - LOOKBACK, 460))


def fit(seed: int, data, decoders=None, on_epoch=lambda epoch, row: None, **recipe):
    generator = seed_everything(seed)
    encoder = CSFTEncoder(CONFIG)
    config = PretrainConfig(
        **{"epochs": 3, "batch_size": 32, "learning_rate": 3e-3, "max_batches_per_epoch": 4}
        | recipe
    )
    history = pretrain(encoder, *data, config, generator, on_epoch, decoders=decoders)
    return encoder, history


def test_pretraining_learns_and_reports_every_term(data):
    seen = []
    _, history = fit(0, data, on_epoch=lambda epoch, row: seen.append(epoch), epochs=4)
    assert len(history) == 4 and seen == [1, 2, 3, 4]
    expected = {f"{split}_{term}" for split in ("train", "val") for term in TERMS} | {"lr"}
    assert all(set(row) == expected for row in history)
    assert all(np.isfinite(list(row.values())).all() for row in history)
    assert history[-1]["val_total"] < history[0]["val_total"]
    assert history[0]["lr"] == pytest.approx(3e-3)
    assert history[1]["lr"] < history[0]["lr"]  # cosine


def test_best_epoch_is_restored(data):
    train_windows, val_windows = data

    def spoil_validation_after_epoch_two(epoch: int, row: dict) -> None:
        val_windows.noisy = epoch >= 2

    decoders = ReconstructionDecoders(CONFIG)
    encoder, history = fit(
        0, data, decoders, spoil_validation_after_epoch_two, epochs=6, patience=2
    )
    totals = [row["val_total"] for row in history]
    assert int(np.argmin(totals)) == 1  # epoch 2, before the noise
    assert len(history) == 4  # two epochs without improvement, then stop
    val_windows.noisy = False
    again = evaluate(encoder, decoders, val_windows, 32, SSLConfig())
    assert again["total"] == pytest.approx(min(totals), abs=1e-5)


def test_same_seed_same_history(data):
    assert fit(3, data)[1] == fit(3, data)[1]


def test_batch_cap_and_full_validation(data):
    train_windows, val_windows = data
    fit(0, data, epochs=2, batch_size=16, max_batches_per_epoch=3)
    assert train_windows.reads == 2 * 3 * 16
    assert val_windows.reads == 2 * len(val_windows)


def test_uncapped_epoch_drops_only_the_last_training_batch(data):
    train_windows, val_windows = data
    fit(0, data, epochs=1, batch_size=64, max_batches_per_epoch=0)
    assert train_windows.reads == (len(train_windows) // 64) * 64
    assert val_windows.reads == len(val_windows)


def test_config_accepts_an_ssl_dict():
    config = PretrainConfig(ssl={"independence_weight": 0.5, "independence_all_scales": True})
    assert config.ssl == SSLConfig(independence_weight=0.5, independence_all_scales=True)
    assert PretrainConfig().ssl == SSLConfig()
    with pytest.raises(ValueError, match="max_batches_per_epoch"):
        PretrainConfig(max_batches_per_epoch=-1)


def test_non_finite_loss_names_the_epoch(data, monkeypatch):
    real = pretrain_module.ssl_loss

    def broken(*args):
        total, terms, scales = real(*args)
        return total * float("nan"), terms, scales

    monkeypatch.setattr(pretrain_module, "ssl_loss", broken)
    with pytest.raises(FloatingPointError, match="epoch 1"):
        fit(0, data, epochs=1)


def test_too_few_training_windows(data):
    with pytest.raises(ValueError, match="fewer than one batch"):
        fit(0, data, batch_size=1000)
