"""The fast CPU dropout (csft.models.dropout) is dropout: the drop rate, unbiased scaling, a
seeded draw, the identity in eval mode, and the same training curve as torch's dropout."""

import math

import pytest
import torch
from torch import nn

from baselines.patchtst import PatchTST, PatchTSTConfig
from csft.models.csft import CSFT, CSFTConfig
from csft.models.dropout import FastDropout, fast_mask, keep_probability, use_fast_dropout
from csft.training.loop import Loop


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.9])
def test_the_mask_drops_at_rate_p_and_scales_the_rest_to_an_unbiased_mean(p):
    torch.manual_seed(0)
    mask = fast_mask(torch.empty(1000, 1001), p)  # an odd count: the draw's tail is cut
    n = mask.numel()
    dropped = (mask == 0).double().mean().item()
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(dropped - p) < 5 * sigma
    assert torch.all((mask == 0) | torch.isclose(mask, torch.tensor(1 / keep_probability(p))))
    assert abs(mask.double().mean().item() - 1.0) < 5 * sigma / (1 - p)


def test_the_16_bit_draw_is_within_one_level_of_p():
    for p in (0.05, 0.1, 0.2, 0.3, 1 / 3, 0.5):
        assert abs((1 - keep_probability(p)) - p) <= 0.5 / 65536


def test_a_seed_fixes_the_mask_and_another_seed_changes_it():
    layer = FastDropout(0.3).train()
    x = torch.ones(64, 128)
    torch.manual_seed(1)
    first = layer(x)
    torch.manual_seed(1)
    assert torch.equal(layer(x), first)
    torch.manual_seed(2)
    assert not torch.equal(layer(x), first)


def test_eval_mode_and_p_zero_are_the_identity_and_p_one_drops_everything():
    x = torch.randn(8, 16)
    assert torch.equal(FastDropout(0.3).eval()(x), x)
    assert torch.equal(FastDropout(0.0).train()(x), x)
    assert torch.equal(FastDropout(1.0).train()(x), torch.zeros_like(x))


def test_inplace_dropout_changes_its_input():
    x = torch.ones(32, 32)
    out = FastDropout(0.5, inplace=True).train()(x)
    assert out.data_ptr() == x.data_ptr() and (x == 0).any()


def models():
    csft = CSFT(CSFTConfig(lookback=128, horizon=24, n_channels=3, dropout=0.2))
    patchtst = PatchTST(PatchTSTConfig(lookback=96, horizon=24, n_channels=3, dropout=0.3))
    return {"csft": (csft, 128), "patchtst": (patchtst, 96)}


@pytest.mark.parametrize("name", ["csft", "patchtst"])
def test_every_dropout_is_swapped_and_the_eval_function_is_unchanged(name):
    model, lookback = models()[name]
    model.eval()
    x = torch.randn(4, lookback, 3)
    before = model(x)
    keys = set(model.state_dict())
    n_dropouts = sum(type(m) is nn.Dropout for m in model.modules())
    assert n_dropouts > 0
    use_fast_dropout(model)
    assert not any(type(m) is nn.Dropout for m in model.modules())
    assert sum(isinstance(m, FastDropout) for m in model.modules()) == n_dropouts
    assert set(model.state_dict()) == keys
    assert torch.equal(model(x), before)  # eval: the very same function


def train_patchtst(fast: bool, steps: int = 40) -> list[float]:
    torch.manual_seed(0)
    config = PatchTSTConfig(
        lookback=96, horizon=24, n_channels=3, dropout=0.3, d_model=16, n_heads=4, d_ff=32
    )
    model = PatchTST(config).train()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 96, 3, generator=generator)
    y = x[:, -24:, :] * 0.5 + 0.1 * torch.randn(32, 24, 3, generator=generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loop = Loop(
        name="train",
        modules={"model": model},
        optimizer=optimizer,
        generator=generator,
        epochs=1,
        fast_dropout=fast,
    )
    assert any(isinstance(m, FastDropout) for m in model.modules()) == fast
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        losses.append(loop.step(nn.functional.mse_loss(model(x), y)))
    return losses


def test_training_with_fast_dropout_follows_torchs_loss_curve():
    # Different masks, the same distribution: at a fixed seed the curves differ only by the
    # dropout noise. Stated tolerance: the mean loss over the last 10 of 40 Adam steps within
    # 10% of torch's, both at least 30% below the first step's.
    fast, reference = train_patchtst(True), train_patchtst(False)
    assert fast[0] == pytest.approx(reference[0], rel=0.1)
    tail_fast, tail_reference = sum(fast[-10:]) / 10, sum(reference[-10:]) / 10
    assert tail_fast == pytest.approx(tail_reference, rel=0.1)
    assert tail_fast < 0.7 * fast[0] and tail_reference < 0.7 * reference[0]
