"""CSFT's self-supervised objective: per-scale reconstruction plus a feature-independence penalty.

The paper names both terms and a weighted sum but no formulas (docs/csft.md,
"Self-supervised pretraining"); the resolution here: a linear decoder per scale maps each
token of H_l back to the raw grid values it covers, MSE against the instance-normalised input,
equal weights over scales; the independence term is the mean squared off-diagonal batch Pearson
correlation of H_L's features (optionally of every scale's token mean too), weight lambda.
Other readings are switches (SSLConfig): the scales' weights (`reconstruction_decay`) and
masked reconstruction as in PatchTST's self-supervised mode (`mask_ratio`).

Beyond the paper (its open question on richer objectives, docs/open_questions.md): a contrastive
term (`contrastive_weight`), TS2Vec's hierarchical contrastive loss with CSFT's scales as the
hierarchy (csft.models.layers, shared with baselines/ts2vec.py): the two views are the same
window encoded twice, the second with an independent random masking of H_0's patches
(`contrastive_mask_ratio`); at every scale l, alpha * instance + (1 - alpha) * temporal contrast
of H_l's tokens (positive: the same token position in the other view), mean over scales.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from csft.models.csft import CSFTConfig, CSFTEncoder, Scales
from csft.models.layers import instance_contrastive_loss, temporal_contrastive_loss


class ReconstructionDecoders(nn.Module):
    """One linear decoder per scale, token -> the patch_len * repatch**l grid values it covers.

    Pretraining only: the forecaster never contains these, so fine-tuning starts from the
    encoder alone.
    """

    def __init__(self, config: CSFTConfig):
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(
            nn.Linear(width, config.patch_len * config.repatch**level)
            for level, width in enumerate(config.widths())
        )

    def forward(self, scales: Scales) -> list[torch.Tensor]:
        """Scales with H_l (N, P_l, d_l) -> per scale the decoded grid (N, grid_length).

        A shallower interval's Scales (fewer levels) use the first decoders: a level-l token
        covers the same number of grid values on every interval, so decoders are shared per
        level as the encoder's scales are.
        """
        if len(scales.hidden) > len(self.layers):
            raise ValueError(
                f"{len(scales.hidden)} scales given, the decoders were built for {len(self.layers)}"
            )
        length = scales.grid.shape[1]
        decoded = []
        for hidden, layer in zip(scales.hidden, self.layers[: len(scales.hidden)], strict=True):
            values = layer(hidden)  # (N, P_l, patch_len * repatch**l)
            values = values.flatten(1)  # (N, P_l * patch_len * repatch**l)
            decoded.append(values[:, :length])  # (N, grid_length): end padding cut off
        return decoded


def reconstruction_losses(
    decoded: list[torch.Tensor],
    grid: torch.Tensor,
    real_length: int | None = None,
    masked_points: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """MSE of each scale's reconstruction (N, grid_length) against the normalised grid; with
    `real_length` (pad_mask placement) over the real points only, never the padding; with
    `masked_points` ((N, grid_length) bool, masked reconstruction) over the masked points only."""
    end = grid.shape[1] if real_length is None else real_length
    if masked_points is None:
        return [F.mse_loss(values[:, :end], grid[:, :end]) for values in decoded]
    weight = masked_points[:, :end].to(grid.dtype)  # (N, end)
    count = weight.sum().clamp_min(1.0)
    return [((values[:, :end] - grid[:, :end]).pow(2) * weight).sum() / count for values in decoded]


def scale_weights(n_scales: int, decay: float) -> torch.Tensor:
    """Each scale's share of the reconstruction loss, proportional to decay^l, summing to 1
    (decay 1: equal, the plain mean over scales)."""
    weights = torch.tensor([decay**level for level in range(n_scales)], dtype=torch.float64)
    return (weights / weights.sum()).float()


def independence_penalty(features: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Mean squared off-diagonal entry of the batch Pearson correlation of features (N, D).

    Columns are standardised with `eps` added to the variance, so a constant column has zero
    correlation with everything instead of NaN. D == 1 has no off-diagonal pair: 0.
    """
    n, d = features.shape
    if d == 1:
        return features.new_zeros(())
    centred = features - features.mean(dim=0, keepdim=True)  # (N, D)
    z = centred / torch.sqrt(centred.pow(2).mean(dim=0, keepdim=True) + eps)  # (N, D)
    correlation = z.T @ z / n  # (D, D)
    off_diagonal = correlation - torch.diag_embed(torch.diagonal(correlation))  # (D, D)
    return off_diagonal.pow(2).sum() / (d * (d - 1))


def scale_contrastive_loss(
    first: list[torch.Tensor], second: list[torch.Tensor], alpha: float = 0.5
) -> torch.Tensor:
    """Two views' scales, H_l (N, P_l, d_l) each -> scalar: TS2Vec's hierarchical contrastive
    loss with CSFT's scales in place of its max-pooling levels: the mean over scales of
    alpha * instance contrast (each token against the same position of the other series in the
    batch) + (1 - alpha) * temporal contrast (against the series' other positions; none where a
    scale has one token, as TS2Vec has none at length 1)."""
    if len(first) != len(second):
        raise ValueError(f"the views have {len(first)} and {len(second)} scales")
    losses = []
    for h1, h2 in zip(first, second, strict=True):  # (N, P_l, d_l) each
        loss = alpha * instance_contrastive_loss(h1, h2) if alpha != 0 else h1.new_zeros(())
        if h1.shape[1] > 1 and alpha != 1:
            loss = loss + (1 - alpha) * temporal_contrastive_loss(h1, h2)
        losses.append(loss)
    return torch.stack(losses).mean()


@dataclass(frozen=True)
class SSLConfig:
    """Weights of the self-supervised loss; every field is a config value logged to MLflow."""

    reconstruction_weight: float = 1.0
    independence_weight: float = 0.1  # lambda
    independence_all_scales: bool = False  # also penalise every scale's token-mean features
    reconstruction_decay: float = 1.0  # scale l's share of the reconstruction ~ decay^l
    mask_ratio: float = 0.0  # > 0: masked reconstruction (this fraction of H_0's patches)
    contrastive_weight: float = 0.0  # > 0: TS2Vec's contrastive loss over the scales, 2 views
    contrastive_mask_ratio: float = 0.5  # the second view's masked share of H_0's patches
    contrastive_alpha: float = 0.5  # instance vs temporal contrast, TS2Vec's alpha

    def __post_init__(self) -> None:
        weights = (self.reconstruction_weight, self.independence_weight, self.contrastive_weight)
        if min(weights) < 0:
            raise ValueError(
                "SSL weights must be non-negative, got reconstruction_weight="
                f"{self.reconstruction_weight}, independence_weight={self.independence_weight}, "
                f"contrastive_weight={self.contrastive_weight}"
            )
        if not 0 < self.contrastive_mask_ratio < 1:
            raise ValueError(
                f"ssl.contrastive_mask_ratio must be in (0, 1), got {self.contrastive_mask_ratio!r}"
            )
        if not 0 <= self.contrastive_alpha <= 1:
            raise ValueError(
                f"ssl.contrastive_alpha must be in [0, 1], got {self.contrastive_alpha!r}"
            )
        if not self.reconstruction_decay > 0:
            raise ValueError(
                f"ssl.reconstruction_decay must be > 0, got {self.reconstruction_decay!r}"
            )
        if not 0 <= self.mask_ratio < 1:
            raise ValueError(f"ssl.mask_ratio must be in [0, 1), got {self.mask_ratio!r}")


def ssl_loss(
    encoder: CSFTEncoder, decoders: ReconstructionDecoders, series: torch.Tensor, config: SSLConfig
) -> tuple[torch.Tensor, dict[str, float], Scales]:
    """series (N, T), or (N, 2^j) on a shallower grid -> (total loss, terms, Scales).

    total = reconstruction_weight * sum_l w_l MSE_l + independence_weight * penalty, with
    w_l ~ reconstruction_decay^l summing to 1 (equal by default), MSE_l over the masked points
    when mask_ratio > 0 (the encoder sees those patches zeroed); the penalty is on H_L's single
    token (N, d_L), or with `independence_all_scales` the mean of the penalties of every
    scale's token mean (H_L's token mean is that token). With contrastive_weight > 0, total +=
    contrastive_weight * scale_contrastive_loss(view 1, view 2): view 1 is the encoding above
    (masked when mask_ratio > 0), view 2 the same series encoded again with an independent
    masking of contrastive_mask_ratio of H_0's patches (one more encoder pass per batch).
    """
    scales = encoder.encode(series, mask_ratio=config.mask_ratio)
    masked_points = None
    if scales.observed is not None:  # missing_mask: scored on the observed points only
        masked_points = scales.observed
    if scales.masked is not None:  # (N, P_0) -> (N, P_0 * patch_len)
        masked_points = scales.masked.repeat_interleave(encoder.config.patch_len, dim=1)
    recon = reconstruction_losses(decoders(scales), scales.grid, scales.real_length, masked_points)
    weights = scale_weights(len(recon), config.reconstruction_decay).to(scales.grid.device)
    recon_mean = (torch.stack(recon) * weights).sum()
    if config.independence_all_scales:
        penalties = [independence_penalty(h.mean(dim=1)) for h in scales.hidden]  # (N, d_l) each
        independence = torch.stack(penalties).mean()
    else:
        independence = independence_penalty(scales.hidden[-1][:, 0])  # H_L token: (N, d_L)
    total = config.reconstruction_weight * recon_mean + config.independence_weight * independence
    terms = {f"recon_l{level}": loss.item() for level, loss in enumerate(recon)}
    if config.contrastive_weight > 0:  # the term is absent (not 0) from the paper's objective
        other = encoder.encode(series, mask_ratio=config.contrastive_mask_ratio)
        contrastive = scale_contrastive_loss(scales.hidden, other.hidden, config.contrastive_alpha)
        total = total + config.contrastive_weight * contrastive
        terms["contrastive"] = contrastive.item()
    terms.update(recon_mean=recon_mean.item(), independence=independence.item(), total=total.item())
    return total, terms, scales
