"""Mixed precision as a training option: bf16 autocast of the training forward passes only,
fp32 otherwise, and a bad value refused by name."""

import pytest
import torch
from torch import nn

from csft.training.loop import Loop


def make_loop(precision: str, model: nn.Module) -> Loop:
    return Loop(
        name="train",
        modules={"model": model},
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
        generator=torch.Generator(),
        epochs=1,
        precision=precision,
    )


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(ValueError, match="precision must be one of .*'fp16'"):
        make_loop("fp16", nn.Linear(2, 1))


PRECISIONS = [("fp32", torch.float32), ("bf16", torch.bfloat16)]


@pytest.mark.parametrize(("precision", "dtype"), PRECISIONS)
def test_forward_passes_run_at_the_chosen_precision_and_the_loss_in_fp32(precision, dtype):
    model = nn.Linear(8, 4)
    loop = make_loop(precision, model)
    x = torch.randn(16, 8)
    with loop.autocast():
        out = model(x)
        loss = nn.functional.mse_loss(out, torch.zeros(16, 4))
    assert out.dtype == dtype and loss.dtype == torch.float32
    assert model(x).dtype == torch.float32  # outside a training step: fp32 (validation, test)


def train(precision: str, steps: int = 60) -> list[float]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 1))
    loop = make_loop(precision, model)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=generator)
    y = x[:, :1] * 2 - x[:, 1:2]
    losses = []
    for _ in range(steps):
        loop.optimizer.zero_grad()
        with loop.autocast():
            loss = nn.functional.mse_loss(model(x), y)
        losses.append(loop.step(loss))
    return losses


def test_bf16_training_follows_the_fp32_loss_curve():
    # Stated tolerance: bfloat16 keeps 8 bits of mantissa, so after 60 Adam steps the loss is
    # within 10% of fp32's (plus 1e-3 absolute), and both fell by more than 90%.
    fp32, bf16 = train("fp32"), train("bf16")
    assert bf16[-1] == pytest.approx(fp32[-1], rel=0.1, abs=1e-3)
    assert fp32[-1] < 0.1 * fp32[0] and bf16[-1] < 0.1 * bf16[0]
    assert bf16 != fp32  # the option did change the arithmetic
