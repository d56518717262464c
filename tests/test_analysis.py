"""Diagnostics: gradient-norm ratios leave the model untouched; attention entropy known answers."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from csft.diagnostics import (
    attention_entropy,
    diagnostic_metrics,
    gradient_norm_ratios,
    gradient_norm_ratios_ssl,
)
from csft.models.csft import CSFT, CSFTConfig, CSFTEncoder, Scales
from csft.models.objectives import ReconstructionDecoders, SSLConfig

CONFIG = CSFTConfig(lookback=64, horizon=8, n_channels=2, d_model=8, n_heads=2)  # L = 2


@pytest.fixture
def model() -> CSFT:
    torch.manual_seed(0)
    return CSFT(CONFIG)


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 64, 2, generator=g), torch.randn(4, 8, 2, generator=g)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_gradient_ratios_leave_the_model_untouched(model):
    before = snapshot(model)
    ratios = gradient_norm_ratios(model, *batch())
    assert len(ratios) == 2
    assert all(math.isfinite(r) and r > 0 for r in ratios)
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())
    after = snapshot(model)
    assert all(torch.equal(before[name], after[name]) for name in before)
    model.eval()
    gradient_norm_ratios(model, *batch())
    assert not model.training


def test_gradient_ratios_keep_existing_grads(model):
    x, y = batch(1)
    F.mse_loss(model(x), y).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    gradient_norm_ratios(model, *batch())
    assert all(torch.equal(grads[name], p.grad) for name, p in model.named_parameters())


def test_gradient_ratios_match_retain_grad(model):
    """Cross-check against the textbook route: retain_grad on every H_l, then backward."""
    x, y = batch()
    ratios = gradient_norm_ratios(model, x, y)
    model.eval()
    z, stats = model.revin.normalize(x)
    scales = model.encoder(z.transpose(1, 2).reshape(8, 64))  # (B*C, T)
    for h in scales.hidden:
        h.retain_grad()
    flat = torch.cat([h.flatten(1) for h in scales.hidden], 1)
    pred = model.revin.denormalize(model.head(flat).reshape(4, 2, 8).transpose(1, 2), stats)
    F.mse_loss(pred, y).backward()
    norms = [h.grad.norm().item() for h in scales.hidden]
    assert ratios == pytest.approx([n / norms[0] for n in norms[1:]], rel=1e-5)


def test_ssl_gradient_ratios_leave_the_modules_untouched():
    torch.manual_seed(0)
    encoder, decoders = CSFTEncoder(CONFIG), ReconstructionDecoders(CONFIG)
    decoders.eval()
    before = snapshot(encoder) | {f"d.{k}": v for k, v in snapshot(decoders).items()}
    ratios = gradient_norm_ratios_ssl(encoder, decoders, torch.randn(8, 64), SSLConfig())
    assert len(ratios) == 2 and all(math.isfinite(r) and r > 0 for r in ratios)
    assert encoder.training and not decoders.training
    after = snapshot(encoder) | {f"d.{k}": v for k, v in snapshot(decoders).items()}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in [*encoder.parameters(), *decoders.parameters()])


def hand_made_scales(weights: list[torch.Tensor | None]) -> Scales:
    hidden = [torch.zeros(3, p, d) for p, d in zip(CONFIG.tokens(), CONFIG.widths(), strict=True)]
    return Scales(hidden, weights, torch.zeros(3, 64))


def test_uniform_attention_reaches_the_uniform_limit():
    # level 1: 2 queries over P_0 = 4 keys; level 2: 1 query over P_1 = 2 keys
    uniform = [torch.full((3, 2, 2, 4), 1 / 4), torch.full((3, 2, 1, 2), 1 / 2)]
    layers = attention_entropy(hand_made_scales(uniform))
    assert [layer["level"] for layer in layers] == [1, 2]
    for layer, keys in zip(layers, [4, 2], strict=True):
        assert layer["uniform"] == pytest.approx(math.log(keys))
        np.testing.assert_allclose(layer["entropy"], [math.log(keys)] * 2, rtol=1e-6)
        np.testing.assert_allclose(layer["fraction"], [1.0, 1.0], rtol=1e-6)


def test_one_hot_attention_has_zero_entropy_per_head():
    mixed = torch.full((3, 2, 2, 4), 1 / 4)
    mixed[:, 1] = F.one_hot(torch.tensor([0, 3]), 4).float()  # head 1 one-hot, head 0 uniform
    layer = attention_entropy(hand_made_scales([mixed, None]))[0]
    np.testing.assert_allclose(layer["entropy"], [math.log(4), 0.0], atol=1e-9)
    np.testing.assert_allclose(layer["fraction"], [1.0, 0.0], atol=1e-9)


def test_single_key_fraction_is_nan():
    scales = Scales([torch.zeros(3, 1, 8)] * 2, [torch.ones(3, 2, 1, 1)], torch.zeros(3, 16))
    layer = attention_entropy(scales)[0]
    assert layer["uniform"] == 0.0
    np.testing.assert_allclose(layer["entropy"], [0.0, 0.0])
    assert np.isnan(layer["fraction"]).all()


def test_entropy_of_a_real_encoder_and_residual_fusion():
    torch.manual_seed(0)
    encoder = CSFTEncoder(CONFIG).eval()
    layers = attention_entropy(encoder(torch.randn(5, 64)))
    assert len(layers) == 2
    for layer in layers:
        assert layer["entropy"].shape == (2,)
        assert ((layer["fraction"] >= 0) & (layer["fraction"] <= 1 + 1e-9)).all()
    residual = CSFTEncoder(CSFTConfig(64, 8, 2, d_model=8, n_heads=2, fusion="residual"))
    assert attention_entropy(residual(torch.randn(5, 64))) == []


def test_diagnostic_metric_names():
    uniform = [torch.full((3, 2, 2, 4), 1 / 4), torch.full((3, 2, 1, 2), 1 / 2)]
    metrics = diagnostic_metrics([0.5, 0.25], attention_entropy(hand_made_scales(uniform)))
    assert set(metrics) == {
        "grad_ratio_l1",
        "grad_ratio_l2",
        *(f"attn_entropy_l{lv}_h{h}" for lv in (1, 2) for h in (0, 1)),
        *(f"attn_entropy_frac_l{lv}_h{h}" for lv in (1, 2) for h in (0, 1)),
    }
    assert metrics["grad_ratio_l2"] == 0.25
    assert metrics["attn_entropy_frac_l1_h1"] == pytest.approx(1.0)
    assert all(isinstance(v, float) for v in metrics.values())
    assert diagnostic_metrics([], []) == {}
