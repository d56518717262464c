"""CSFT's self-supervised objective: per-scale reconstruction plus a feature-independence penalty.

The paper names both terms and a weighted sum but no formulas (docs/csft.md,
"Self-supervised pretraining"); the resolution here: a linear decoder per scale maps each
token of H_l back to the raw grid values it covers, MSE against the instance-normalised input,
equal weights over scales; the independence term is the mean squared off-diagonal batch Pearson
correlation of H_L's features (optionally of every scale's token mean too), weight lambda.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from csft.models.csft import CSFTConfig, CSFTEncoder, Scales


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
    decoded: list[torch.Tensor], grid: torch.Tensor, real_length: int | None = None
) -> list[torch.Tensor]:
    """MSE of each scale's reconstruction (N, grid_length) against the normalised grid; with
    `real_length` (pad_mask placement) over the real points only, never the padding."""
    end = grid.shape[1] if real_length is None else real_length
    return [F.mse_loss(values[:, :end], grid[:, :end]) for values in decoded]


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


@dataclass(frozen=True)
class SSLConfig:
    """Weights of the self-supervised loss; every field is a config value logged to MLflow."""

    reconstruction_weight: float = 1.0
    independence_weight: float = 0.1  # lambda
    independence_all_scales: bool = False  # also penalise every scale's token-mean features

    def __post_init__(self) -> None:
        if self.reconstruction_weight < 0 or self.independence_weight < 0:
            raise ValueError(
                "SSL weights must be non-negative, got reconstruction_weight="
                f"{self.reconstruction_weight}, independence_weight={self.independence_weight}"
            )


def ssl_loss(
    encoder: CSFTEncoder, decoders: ReconstructionDecoders, series: torch.Tensor, config: SSLConfig
) -> tuple[torch.Tensor, dict[str, float], Scales]:
    """series (N, T), or (N, 2^j) on a shallower grid -> (total loss, terms, Scales).

    total = reconstruction_weight * mean_l MSE_l + independence_weight * penalty, where the
    penalty is on H_L's single token (N, d_L), or with `independence_all_scales` the mean of the
    penalties of every scale's token mean (H_L's token mean is that token).
    """
    scales = encoder.encode(series)
    recon = reconstruction_losses(decoders(scales), scales.grid, scales.real_length)
    recon_mean = torch.stack(recon).mean()
    if config.independence_all_scales:
        penalties = [independence_penalty(h.mean(dim=1)) for h in scales.hidden]  # (N, d_l) each
        independence = torch.stack(penalties).mean()
    else:
        independence = independence_penalty(scales.hidden[-1][:, 0])  # H_L token: (N, d_L)
    total = config.reconstruction_weight * recon_mean + config.independence_weight * independence
    terms = {f"recon_l{level}": loss.item() for level, loss in enumerate(recon)}
    terms.update(recon_mean=recon_mean.item(), independence=independence.item(), total=total.item())
    return total, terms, scales
