"""The one training loop (csft.training.loop): early stopping, best weights, budgets, the
finite-loss guard and resuming from a checkpoint, on a model small enough to reason about."""

import logging

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from csft.training.checkpoint import Checkpoint
from csft.training.loop import Loop


class Killed(Exception):
    """Stands in for SIGKILL after an epoch's row is made, before its checkpoint."""


def scripted_loop(val_losses, **options):
    """A loop over a one-weight model whose weight is set to the epoch number each epoch and
    whose validation loss follows `val_losses`: (loop, train_epoch, validate, model)."""
    model = torch.nn.Linear(1, 1, bias=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loop = Loop(
        name="toy",
        modules={"model": model},
        optimizer=optimizer,
        generator=torch.Generator(),
        **options,
    )

    def train_epoch(epoch):
        with torch.no_grad():
            model.weight.fill_(epoch)
        return {"train_loss": float(epoch)}

    def validate(epoch):
        return {"val_loss": val_losses[epoch - 1]}

    return loop, train_epoch, validate, model


def test_stops_patience_epochs_after_the_best_and_restores_its_weights():
    losses = [3.0, 2.0, 2.5, 2.0, 2.2, 1.0]  # epoch 4 only ties the best: not better
    loop, train_epoch, validate, model = scripted_loop(losses, epochs=6, patience=3)
    history = loop.run(train_epoch, validate)
    assert [row["val_loss"] for row in history] == losses[:5]
    assert model.weight.item() == 2.0  # epoch 2's weights, not the last epoch's


def test_without_validation_every_epoch_runs_and_the_last_weights_stay():
    loop, train_epoch, _, model = scripted_loop([], epochs=4, patience=1)
    assert len(loop.run(train_epoch)) == 4
    assert model.weight.item() == 4.0


def test_step_budget_ends_the_phase_mid_epoch():
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loop = Loop(name="toy", modules={"m": model}, optimizer=optimizer, generator=None, max_steps=7)

    def train_pass(epoch):
        for _ in range(3):
            if loop.spent():
                break
            optimizer.zero_grad()
            loop.step(model(torch.ones(1, 1)).pow(2).sum())
        return {"steps": loop.state.steps}

    assert [row["steps"] for row in loop.run(train_pass)] == [3, 6, 7]


def test_a_non_finite_loss_names_the_phase_and_epoch_before_any_weight_changes():
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loop = Loop(name="toy", modules={"m": model}, optimizer=optimizer, generator=None, epochs=3)

    def train_epoch(epoch):
        optimizer.zero_grad()
        loss = model(torch.ones(1, 1)).pow(2).sum()
        loop.step(loss * float("nan") if epoch == 2 else loss)
        return {"train_loss": 0.0}

    before = {}

    def remember(epoch, row):
        before.update({k: v.clone() for k, v in model.state_dict().items()})

    loop.on_epoch = remember
    with pytest.raises(FloatingPointError, match=r"toy: training loss became nan in epoch 2"):
        loop.run(train_epoch)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])


def test_a_non_finite_validation_loss_is_an_error():
    loop, train_epoch, validate, _ = scripted_loop([1.0, float("inf")], epochs=2, patience=2)
    with pytest.raises(FloatingPointError, match="toy: validation val_loss became inf in epoch 2"):
        loop.run(train_epoch, validate)


def noisy_regression(checkpoint=None, on_epoch=lambda epoch, row: None):
    """A real training phase drawing from every generator the loop checkpoints (a shuffled
    loader, dropout on torch's global one) with a schedule: (history, weights)."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(2))
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]])
    loader = DataLoader(TensorDataset(x, y), 16, shuffle=True, generator=generator)
    model = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(4, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    loop = Loop(
        name="regression",
        modules={"model": model},
        optimizer=optimizer,
        generator=generator,
        epochs=5,
        patience=2,
        scheduler=torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.5),
        checkpoint=checkpoint,
        on_epoch=on_epoch,
    )

    def train_epoch(epoch):
        losses = []
        for xb, yb in loader:
            optimizer.zero_grad()
            losses.append(loop.step(torch.nn.functional.mse_loss(model(xb), yb)))
        return {"train_loss": sum(losses) / len(losses)}

    def validate(epoch):
        model.eval()
        with torch.no_grad():
            return {"val_loss": float(torch.nn.functional.mse_loss(model(x), y))}

    history = loop.run(train_epoch, validate)
    return history, {k: v.clone() for k, v in model.state_dict().items()}


def test_a_killed_phase_resumes_to_the_uninterrupted_result(tmp_path):
    expected, expected_weights = noisy_regression()

    def killer(epoch, row):
        if epoch == 3:
            raise Killed

    path = tmp_path / "job.pt"
    with pytest.raises(Killed):
        noisy_regression(Checkpoint(path, {"job": "x"}), killer)
    assert Checkpoint(path, {"job": "x"}).phase("regression")["loop"]["epoch"] == 2

    replayed = []
    history, weights = noisy_regression(
        Checkpoint(path, {"job": "x"}), lambda epoch, row: replayed.append(epoch)
    )
    assert history == expected and replayed == list(range(1, len(expected) + 1))
    for key, value in weights.items():
        assert torch.equal(value, expected_weights[key]), key


def test_a_checkpoint_of_an_older_format_is_ignored_with_a_warning(tmp_path, caplog):
    path = tmp_path / "job.pt"
    noisy_regression(Checkpoint(path, {"job": "x"}))
    stored = torch.load(path, weights_only=True)
    del stored["format"]  # as format 1 wrote it
    torch.save(stored, path)
    with caplog.at_level(logging.WARNING):
        assert Checkpoint(path, {"job": "x"}).phase("regression") is None
    assert "checkpoint format 1" in caplog.text
