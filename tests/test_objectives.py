"""The SSL objective: decoder shapes, reconstruction targets, known independence answers."""

import numpy as np
import pytest
import torch

from csft.models.csft import CSFTConfig, CSFTEncoder, Scales
from csft.models.objectives import (
    ReconstructionDecoders,
    SSLConfig,
    independence_penalty,
    reconstruction_losses,
    ssl_loss,
)

CONFIG = CSFTConfig(lookback=64, horizon=8, n_channels=1, d_model=8, n_heads=2)  # L = 2


@pytest.fixture
def encoder() -> CSFTEncoder:
    torch.manual_seed(0)
    return CSFTEncoder(CONFIG)


def test_decoders_cover_each_tokens_raw_values():
    decoders = ReconstructionDecoders(CONFIG)
    assert [layer.in_features for layer in decoders.layers] == [8, 16, 32]
    assert [layer.out_features for layer in decoders.layers] == [16, 32, 64]


def test_decoders_map_every_scale_to_the_grid(encoder):
    scales = encoder(torch.randn(5, 64))
    decoded = ReconstructionDecoders(CONFIG)(scales)
    assert [tuple(d.shape) for d in decoded] == [(5, 64)] * 3
    assert scales.grid.shape == (5, 64)


def test_decoders_cut_the_end_padding():
    torch.manual_seed(1)
    decoders = ReconstructionDecoders(CONFIG)
    # one token more per scale than the grid needs, as end padding would leave
    hidden = [
        torch.randn(3, p + 1, d) for p, d in zip(CONFIG.tokens(), CONFIG.widths(), strict=True)
    ]
    scales = Scales(hidden, [None, None], torch.randn(3, 64))
    decoded = decoders(scales)
    for h, layer, values in zip(hidden, decoders.layers, decoded, strict=True):
        assert values.shape == (3, 64)
        torch.testing.assert_close(values, layer(h).flatten(1)[:, :64])  # the start is kept


def test_reconstruction_losses_are_mse_against_the_grid():
    grid = torch.randn(4, 64)
    losses = reconstruction_losses([grid, grid + 1.0, grid - 2.0], grid)
    assert [loss.item() for loss in losses] == pytest.approx([0.0, 1.0, 4.0])


def test_independence_is_near_zero_for_independent_columns():
    features = torch.from_numpy(np.random.default_rng(0).normal(size=(4000, 6)))
    assert independence_penalty(features).item() < 0.01


def test_independence_of_two_identical_columns_is_one():
    column = torch.randn(500, 1, dtype=torch.float64)
    assert independence_penalty(torch.cat([column, column], 1)).item() == pytest.approx(1, 1e-4)
    assert independence_penalty(torch.cat([column, -3 * column], 1)).item() == pytest.approx(
        1, 1e-4
    )


def test_independence_matches_the_pearson_matrix():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 4))
    x[:, 1] = x[:, 0]  # one identical pair among D = 4: 2 of the 12 off-diagonal entries are 1
    corr = np.corrcoef(x, rowvar=False)
    exact = (corr[~np.eye(4, dtype=bool)] ** 2).mean()
    value = independence_penalty(torch.from_numpy(x)).item()
    assert value == pytest.approx(exact, abs=1e-4)
    assert value == pytest.approx(2 / 12, abs=0.01)


def test_independence_edge_cases():
    assert independence_penalty(torch.randn(10, 1)).item() == 0.0
    constant = torch.cat([torch.ones(10, 1), torch.randn(10, 2)], 1)
    assert torch.isfinite(independence_penalty(constant))


def test_ssl_loss_terms_and_weighted_total(encoder):
    decoders = ReconstructionDecoders(CONFIG)
    config = SSLConfig(reconstruction_weight=2.0, independence_weight=0.5)
    total, terms, scales = ssl_loss(encoder, decoders, torch.randn(16, 64), config)
    assert set(terms) == {"recon_l0", "recon_l1", "recon_l2", "recon_mean", "independence", "total"}
    assert terms["recon_mean"] == pytest.approx(np.mean([terms[f"recon_l{i}"] for i in range(3)]))
    expected = 2.0 * terms["recon_mean"] + 0.5 * terms["independence"]
    assert terms["total"] == pytest.approx(expected, rel=1e-5)
    assert total.item() == pytest.approx(terms["total"])
    h_last = scales.hidden[-1][:, 0]
    assert terms["independence"] == pytest.approx(independence_penalty(h_last).item(), rel=1e-5)
    total.backward()
    assert all(p.grad is not None for p in decoders.parameters())
    assert encoder.embed.weight.grad is not None


def test_ssl_loss_all_scales_averages_every_scales_penalty(encoder):
    decoders = ReconstructionDecoders(CONFIG)
    series = torch.randn(16, 64)
    encoder.eval()
    _, terms, scales = ssl_loss(encoder, decoders, series, SSLConfig(independence_all_scales=True))
    expected = np.mean([independence_penalty(h.mean(1)).item() for h in scales.hidden])
    assert terms["independence"] == pytest.approx(expected, rel=1e-5)


def test_ssl_config_rejects_negative_weights():
    with pytest.raises(ValueError, match="non-negative"):
        SSLConfig(independence_weight=-0.1)
