"""The SSL objective: decoder shapes, reconstruction targets, known independence answers."""

import numpy as np
import pytest
import torch

from csft.models.csft import CSFTConfig, CSFTEncoder, Scales, random_patch_mask
from csft.models.layers import instance_contrastive_loss, temporal_contrastive_loss
from csft.models.objectives import (
    ReconstructionDecoders,
    SSLConfig,
    independence_penalty,
    reconstruction_losses,
    scale_contrastive_loss,
    scale_weights,
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


def test_ssl_config_rejects_a_bad_decay_and_mask_ratio():
    with pytest.raises(ValueError, match="ssl.reconstruction_decay must be > 0, got 0"):
        SSLConfig(reconstruction_decay=0)
    with pytest.raises(ValueError, match=r"ssl.mask_ratio must be in \[0, 1\), got 1"):
        SSLConfig(mask_ratio=1)


def test_scale_weights_follow_the_decay_and_sum_to_one():
    assert scale_weights(3, 1.0).tolist() == pytest.approx([1 / 3] * 3)
    assert scale_weights(3, 0.5).tolist() == pytest.approx([4 / 7, 2 / 7, 1 / 7])
    assert scale_weights(2, 3.0).tolist() == pytest.approx([0.25, 0.75])


def test_the_decay_weights_the_scales_reconstruction(encoder):
    decoders = ReconstructionDecoders(CONFIG)
    encoder.eval()  # no dropout: both calls see the same function
    series = torch.randn(16, 64)
    _, terms, _ = ssl_loss(encoder, decoders, series, SSLConfig(reconstruction_decay=0.5))
    levels = [terms[f"recon_l{i}"] for i in range(3)]
    assert terms["recon_mean"] == pytest.approx(np.dot([4 / 7, 2 / 7, 1 / 7], levels), rel=1e-5)


def test_random_patch_mask_draws_the_ratio_of_real_patches_only():
    torch.manual_seed(0)
    mask = random_patch_mask(50, 8, 6, 0.4)  # 6 real patches, 2 of padding
    assert mask.shape == (50, 8) and (mask.sum(1) == 2).all()  # round(0.4 * 6)
    assert not mask[:, 6:].any() and mask[:, :6].any(0).all()
    assert random_patch_mask(3, 8, 8, 0.01).sum(1).tolist() == [1, 1, 1]  # at least one


def test_masked_reconstruction_hides_the_masked_patches_and_scores_only_them():
    """With input_norm none the encoder's input is the grid itself: values under a masked
    patch change nothing the encoder computes, and the loss is the MSE over those points."""
    config = CSFTConfig(lookback=64, horizon=8, n_channels=1, d_model=8, n_heads=2,
                        input_norm="none")  # fmt: skip
    torch.manual_seed(0)
    encoder, decoders = CSFTEncoder(config).eval(), ReconstructionDecoders(config)
    series = torch.randn(16, 64)
    ssl = SSLConfig(mask_ratio=0.5)
    torch.manual_seed(7)
    _, terms, scales = ssl_loss(encoder, decoders, series, ssl)
    assert scales.masked.shape == (16, 4) and (scales.masked.sum(1) == 2).all()
    points = scales.masked.repeat_interleave(16, dim=1)  # (16, 64)
    changed = torch.where(points, series + 100.0, series)
    torch.manual_seed(7)  # the same masks
    _, again, scales_again = ssl_loss(encoder, decoders, changed, ssl)
    for h, h_again in zip(scales.hidden, scales_again.hidden, strict=True):
        torch.testing.assert_close(h, h_again)  # the encoder never saw the masked values
    decoded = decoders(scales)[0]
    expected = ((decoded - series) ** 2)[points].mean().item()
    assert terms["recon_l0"] == pytest.approx(expected, rel=1e-5)
    assert again["recon_l0"] > terms["recon_l0"] + 1000  # the targets are the true values


def test_without_the_embedding_norm_the_encoder_has_no_layer_norm_there():
    config = CSFTConfig(lookback=64, horizon=8, n_channels=1, d_model=8, n_heads=2,
                        embed_norm=False)  # fmt: skip
    encoder = CSFTEncoder(config)
    assert not any(key.startswith("embed_norm.") for key in encoder.state_dict())
    assert any(key.startswith("embed_norm.") for key in CSFTEncoder(CONFIG).state_dict())
    assert encoder(torch.randn(4, 64)).hidden[-1].shape == (4, 1, 32)


def test_masked_positions_are_the_only_ones_in_the_masked_loss():
    """Changing the reconstruction target at unmasked points changes no loss; at a masked
    point it changes every scale's (also with pad_mask's real_length)."""
    torch.manual_seed(3)
    decoded = [torch.randn(6, 64) for _ in range(3)]
    grid = torch.randn(6, 64)
    masked = random_patch_mask(6, 4, 4, 0.5).repeat_interleave(16, dim=1)  # (6, 64)
    for real_length in (None, 48):
        losses = reconstruction_losses(decoded, grid, real_length, masked)
        elsewhere = reconstruction_losses(decoded, torch.where(masked, grid, grid + 50.0),
                                          real_length, masked)  # fmt: skip
        assert [x.item() for x in elsewhere] == [x.item() for x in losses]
        end = 64 if real_length is None else real_length
        inside = masked.clone()
        inside[:, end:] = False  # a masked point among the real ones
        target = torch.where(inside, grid + 50.0, grid)
        moved = reconstruction_losses(decoded, target, real_length, masked)
        assert all(m.item() > x.item() + 100 for m, x in zip(moved, losses, strict=True))


def test_the_masked_ssl_loss_has_no_gradient_at_unmasked_points(encoder):
    """Through ssl_loss's own path: the gradient of the reconstruction with respect to every
    scale's decoded values is zero at every unmasked point and not at the masked ones."""
    decoders = ReconstructionDecoders(CONFIG)
    encoder.eval()
    torch.manual_seed(5)
    scales = encoder.encode(torch.randn(8, 64), mask_ratio=0.5)
    points = scales.masked.repeat_interleave(CONFIG.patch_len, dim=1)  # (8, 64)
    decoded = [d.detach().requires_grad_() for d in decoders(scales)]
    torch.stack(reconstruction_losses(decoded, scales.grid, None, points)).sum().backward()
    for values in decoded:
        assert (values.grad[~points] == 0).all()
        assert (values.grad[points] != 0).all()


def test_the_contrastive_term_is_absent_at_weight_zero_and_weighted_otherwise(encoder):
    decoders = ReconstructionDecoders(CONFIG)
    series = torch.randn(16, 64)
    encoder.eval()  # no dropout: the same series give the same first view
    torch.manual_seed(0)
    plain, plain_terms, _ = ssl_loss(encoder, decoders, series, SSLConfig())
    assert "contrastive" not in plain_terms  # today's objective, unchanged
    torch.manual_seed(0)
    total, terms, _ = ssl_loss(encoder, decoders, series, SSLConfig(contrastive_weight=0.3))
    assert terms["contrastive"] > 0
    assert terms["recon_mean"] == pytest.approx(plain_terms["recon_mean"], rel=1e-6)
    assert total.item() == pytest.approx(plain.item() + 0.3 * terms["contrastive"], rel=1e-5)
    total.backward()
    assert encoder.embed.weight.grad is not None and torch.isfinite(encoder.embed.weight.grad).all()


def test_the_scale_contrastive_loss_is_ts2vecs_contrast_on_each_scale():
    torch.manual_seed(1)
    first = [torch.randn(4, 8, 6), torch.randn(4, 4, 12), torch.randn(4, 1, 24)]
    second = [h + 0.1 * torch.randn_like(h) for h in first]
    expected = [
        0.25 * instance_contrastive_loss(a, b) + 0.75 * temporal_contrastive_loss(a, b)
        for a, b in zip(first[:2], second[:2], strict=True)
    ] + [0.25 * instance_contrastive_loss(first[2], second[2])]  # one token: no temporal term
    got = scale_contrastive_loss(first, second, alpha=0.25)
    assert got.item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-6)
    # aligned views score lower than unrelated ones
    unrelated = [torch.randn_like(h) for h in first]
    assert got < scale_contrastive_loss(first, unrelated, alpha=0.25)
    with pytest.raises(ValueError, match="the views have 3 and 2 scales"):
        scale_contrastive_loss(first, second[:2])


def test_ssl_config_rejects_bad_contrastive_settings():
    with pytest.raises(ValueError, match="non-negative"):
        SSLConfig(contrastive_weight=-1)
    with pytest.raises(ValueError, match=r"contrastive_mask_ratio must be in \(0, 1\), got 0"):
        SSLConfig(contrastive_mask_ratio=0)
    with pytest.raises(ValueError, match=r"contrastive_alpha must be in \[0, 1\], got 2"):
        SSLConfig(contrastive_alpha=2)
