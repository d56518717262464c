"""Diagnostics the paper names: gradient collapse across scales and attention degeneration.

- Gradient collapse in deep CTLs: ||grad H_l|| / ||grad H_0|| (Frobenius norms over the batch).
- Attention degeneration: cross-scale attention whose entropy is near the uniform limit
  log(P_{l-1}) only averages the finer scale.
Every diagnostic leaves the model as it found it: parameters, `.grad` and train/eval mode.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:  # the functions take models; this module imports none (csft.report uses it)
    from csft.models.csft import CSFT, CSFTEncoder, Scales
    from csft.models.objectives import ReconstructionDecoders, SSLConfig


def _norm_ratios(loss: torch.Tensor, hidden: list[torch.Tensor]) -> list[float]:
    """[||dloss/dH_l|| / ||dloss/dH_0|| for l = 1..L] without touching any parameter's .grad.

    torch.autograd.grad returns the gradients instead of accumulating them into `.grad`, so a
    diagnostic run in the middle of training never leaks into the optimiser step.
    """
    if not all(h.requires_grad for h in hidden):
        raise ValueError("the hidden states do not require grad: is the encoder frozen?")
    grads = torch.autograd.grad(loss, hidden)
    norms = [g.norm().item() for g in grads]
    return [norm / norms[0] for norm in norms[1:]]


def _modes(modules: list[nn.Module]) -> list[bool]:
    """Each module's training flag, to restore it afterwards."""
    return [module.training for module in modules]


def gradient_norm_ratios(model: CSFT, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Forecasting batch x (B, T, C), y (B, H, C) -> ||grad H_l|| / ||grad H_0||, l = 1..L.

    Gradients of the MSE forecast loss, in eval mode (no dropout noise); the encoder's Scales
    are caught with a forward hook, so the model's own forward is what is measured.
    """
    caught: list[Scales] = []
    handle = model.encoder.register_forward_hook(lambda module, args, out: caught.append(out))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            loss = F.mse_loss(model(x), y)
            return _norm_ratios(loss, caught[0].hidden)
    finally:
        handle.remove()
        model.train(was_training)


def gradient_norm_ratios_ssl(
    encoder: CSFTEncoder,
    decoders: ReconstructionDecoders,
    series: torch.Tensor,
    ssl_config: SSLConfig,
) -> list[float]:
    """Univariate series (N, T) -> ||grad H_l|| / ||grad H_0|| of the SSL loss, l = 1..L."""
    from csft.models import objectives  # here: csft.report imports this module, never models

    modes = _modes([encoder, decoders])
    encoder.eval()
    decoders.eval()
    try:
        with torch.enable_grad():
            loss, _, scales = objectives.ssl_loss(encoder, decoders, series, ssl_config)
            return _norm_ratios(loss, scales.hidden)
    finally:
        for module, mode in zip([encoder, decoders], modes, strict=True):
            module.train(mode)


def attention_entropy(scales: Scales, eps: float = 1e-12) -> list[dict]:
    """Per CTL with cross-scale attention: the mean entropy of each head's attention rows.

    Returns per layer {"level": l, "entropy": (heads,), "fraction": (heads,), "uniform":
    log(P_{l-1})}, the entropy (nats) averaged over samples and query tokens and as a fraction
    of the uniform limit (NaN when P_{l-1} == 1: one key leaves no choice). Layers with residual
    fusion have no attention and are skipped. Take the Scales from an eval-mode forward pass:
    in train mode nn.MultiheadAttention returns the weights after dropout.
    """
    layers = []
    for level, weights in enumerate(scales.attention, start=1):
        if weights is None:
            continue
        p = weights.detach().double()  # (N, heads, P_l, P_{l-1})
        entropy = -(p * p.clamp_min(eps).log()).sum(dim=-1)  # (N, heads, P_l)
        per_head = entropy.mean(dim=(0, 2)).cpu().numpy()  # (heads,)
        keys = p.shape[-1]
        uniform = math.log(keys)
        fraction = per_head / uniform if keys > 1 else np.full_like(per_head, np.nan)
        layers.append(
            {"level": level, "entropy": per_head, "fraction": fraction, "uniform": uniform}
        )
    return layers


def diagnostic_metrics(ratios: list[float], entropies: list[dict]) -> dict[str, float]:
    """Flat MLflow metric names: grad_ratio_l{l}, attn_entropy[_frac]_l{l}_h{h} (heads from 0)."""
    metrics = {f"grad_ratio_l{level}": float(r) for level, r in enumerate(ratios, start=1)}
    for layer in entropies:
        level = layer["level"]
        for head, (entropy, fraction) in enumerate(
            zip(layer["entropy"], layer["fraction"], strict=True)
        ):
            metrics[f"attn_entropy_l{level}_h{head}"] = float(entropy)
            metrics[f"attn_entropy_frac_l{level}_h{head}"] = float(fraction)
    return metrics


# ----------------------------------------------------------------------------- feature statistics
# The paper's feature-independence and feature-efficiency claims, on frozen representations
# (N samples x D features) from any model's `represent`.


def _checked(features: np.ndarray) -> np.ndarray:
    """Features as float64 (N >= 3, D), or an error naming the shape or the NaN."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 3:
        raise ValueError(f"features must be (N >= 3, D), got shape {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN or infinite values")
    return features


def _varying_columns(features: np.ndarray) -> np.ndarray:
    """Drop constant feature dimensions: their correlation is undefined, not zero."""
    features = _checked(features)
    return features[:, features.std(axis=0) > 0]


def _mean_abs_off_diagonal(matrix: np.ndarray) -> float:
    d = matrix.shape[0]
    return float(np.abs(matrix[~np.eye(d, dtype=bool)]).mean()) if d > 1 else float("nan")


def feature_correlation(features: np.ndarray) -> dict[str, float]:
    """Mean absolute off-diagonal Pearson and Spearman correlation between feature dimensions.

    0 for independent features, 1 when every dimension is a (monotone) copy of one; constant
    dimensions are left out (their count is returned).
    """
    from scipy import stats  # only the jobs that measure features import scipy

    varying = _varying_columns(features)
    pearson = np.corrcoef(varying, rowvar=False)
    spearman = np.ones((1, 1))
    if varying.shape[1] > 1:
        rho = stats.spearmanr(varying).statistic  # a matrix, or one value for two dimensions
        spearman = np.array([[1.0, rho], [rho, 1.0]]) if np.ndim(rho) == 0 else rho
    return {
        "pearson": _mean_abs_off_diagonal(np.atleast_2d(pearson)),
        "spearman": _mean_abs_off_diagonal(np.atleast_2d(spearman)),
        "n_constant": int(np.asarray(features).shape[1] - varying.shape[1]),
    }


def explained_variance_curve(features: np.ndarray) -> np.ndarray:
    """Cumulative explained-variance ratio of the principal components, (min(N, D),)."""
    from sklearn.decomposition import PCA

    varying = _varying_columns(features)
    return np.cumsum(PCA().fit(varying).explained_variance_ratio_)


def components_for_variance(features: np.ndarray, threshold: float = 0.8) -> float:
    """Fraction of the feature dimensions whose principal components reach `threshold` of the
    variance (the paper's feature efficiency: higher = less redundant)."""
    curve = explained_variance_curve(features)
    needed = int(np.searchsorted(curve, threshold - 1e-12) + 1)
    return needed / np.asarray(features).shape[1]


# ------------------------------------------------------------------ representation health
# Feature metrics cannot tell a good representation from a collapsed one (every series mapped to
# nearly one vector): constant-plus-noise features look perfectly "independent". These numbers go
# beside every feature claim, and a collapsed representation is not judged.

DEAD_TOLERANCE = 1e-6  # a dimension is dead when its sd across series is below this x the rms
COLLAPSE_COSINE = 0.95  # mean cosine between different series above this: one shared direction


def effective_rank(features: np.ndarray) -> float:
    """exp of the entropy of the normalised singular values of the centered features (Roy and
    Vetterli 2007): ~D for isotropic features, 1 for rank one, 0 when nothing varies."""
    centered = np.asarray(features, dtype=np.float64)
    centered = centered - centered.mean(axis=0)
    singular = np.linalg.svd(centered, compute_uv=False)
    if singular.sum() <= np.finfo(np.float64).tiny:
        return 0.0
    p = singular / singular.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def mean_between_cosine(features: np.ndarray, max_series: int = 2000) -> float:
    """Mean cosine similarity between *different* series (the diagonal left out); raw, not
    centered: near 1 when one shared component dominates every series. At most `max_series`
    rows (the first ones) keep it O(max_series^2)."""
    rows = np.asarray(features, dtype=np.float64)[:max_series]
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit = rows / np.where(norms > 0, norms, 1.0)
    cosine = unit @ unit.T
    n = len(rows)
    return float((cosine.sum() - np.trace(cosine)) / (n * (n - 1)))


def representation_health(features: np.ndarray) -> dict[str, float | int | bool]:
    """Dead dimensions, effective rank and between-series cosine of (N >= 3, D) features, and
    whether they read as collapsed (between-series cosine >= COLLAPSE_COSINE, or effective
    rank below 1.5, or every dimension dead)."""
    features = _checked(features)
    rms = float(np.sqrt((features**2).mean()))
    dead = int((features.std(axis=0) <= DEAD_TOLERANCE * max(rms, 1e-12)).sum())
    rank, cosine = effective_rank(features), mean_between_cosine(features)
    return {
        "dead_dimensions": dead,
        "dimensions": int(features.shape[1]),
        "effective_rank": rank,
        "between_cosine": cosine,
        "collapsed": bool(cosine >= COLLAPSE_COSINE or rank < 1.5 or dead == features.shape[1]),
    }
