"""TS2Vec: representations learned by contrasting two overlapping crops at every time scale.

Paper: Z. Yue, Y. Wang, J. Duan, T. Yang, C. Huang, Y. Tong, B. Xu, "TS2Vec: Towards Universal
Representation of Time Series", AAAI 2022. Official code: github.com/yuezhihan/ts2vec (ts2vec.py,
models/encoder.py, models/dilated_conv.py, models/losses.py, utils.py).

Our own implementation of the official defaults, as its UCR classification script runs them:
a linear input projection, timestamp masking of the projected steps (binomial, train only),
missing (NaN) steps zeroed after the projection and never unmasked, `depth` residual blocks
of two dilated 'same' convolutions (GELU before each, dilation 2^i) plus a final block to the
output width, dropout on the representation; AdamW, batch 8, 200 or 600 iterations by the
training array's size, two random crops per batch that share an overlap, the hierarchical
contrastive loss (instance + temporal, max-pooled by 2 along time down to length 1), and a
stochastic weight average of the encoder (initial weights included, updated every step) that
does all the encoding. For classification each series is encoded whole and max-pooled over
time, padded steps included, as the official 'full_series' window does.

Deviations (randomness only, not the function): the official draws crops and masks from
numpy's global RNG, shuffles with torch's and draws the mask inside forward(); here one numpy
Generator made from the seed shuffles and draws the windows, crops and masks (the training
loop passes the mask to the encoder), and torch's RNG (initial weights, dropout) is forked and
seeded with the same seed, so a seed gives the same representations whatever the caller's RNG
state. A run is therefore not the official run with the same seed, but is drawn the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from csft.models.layers import hierarchical_contrastive_loss  # shared with CSFT's contrastive term

KERNEL_SIZE = 3  # official DilatedConvEncoder kernel
CPU = torch.device("cpu")
SMALL_SET_VALUES = 100_000  # official: 200 iterations up to this many training values, else 600


@dataclass(frozen=True)
class TS2VecConfig:
    """Official defaults of the UCR runs (scripts/ucr.sh: batch 8, 320 dims, 3000 max length)."""

    hidden_dims: int = 64
    output_dims: int = 320
    depth: int = 10  # residual blocks at hidden width; one more block maps to output_dims
    learning_rate: float = 1e-3
    batch_size: int = 8
    max_train_length: int | None = 3000  # longer training series are split / windowed
    temporal_unit: int = 0  # temporal contrast from this pooling level on; crops >= 2^(unit+1)
    steps: int | str = "auto"  # "auto": the official rule, default_steps(training array size)
    alpha: float = 0.5  # weight of the instance contrast (1 - alpha: temporal)
    mask_p: float = 0.5  # probability that a time step is kept (official binomial p)
    repr_dropout: float = 0.1

    def __post_init__(self) -> None:
        for name, low in (
            ("hidden_dims", 1),
            ("output_dims", 1),
            ("batch_size", 1),
            ("depth", 0),
            ("temporal_unit", 0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.steps != "auto" and (
            isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1
        ):
            raise ValueError(f"steps must be 'auto' or an integer >= 1, got {self.steps!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        shortest = self.min_crop_length
        if self.max_train_length is not None and (
            isinstance(self.max_train_length, bool)
            or not isinstance(self.max_train_length, int)
            or self.max_train_length < shortest
        ):
            raise ValueError(
                f"max_train_length must be None or an integer >= {shortest} (the shortest crop "
                f"for temporal_unit={self.temporal_unit}), got {self.max_train_length!r}"
            )
        for name in ("alpha", "mask_p"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not 0 <= self.repr_dropout < 1:
            raise ValueError(f"repr_dropout must be in [0, 1), got {self.repr_dropout!r}")

    @property
    def min_crop_length(self) -> int:
        """The shortest crop: temporal contrast needs two steps at level temporal_unit."""
        return 2 ** (self.temporal_unit + 1)


def default_steps(n_values: int) -> int:
    """The official iteration rule on the (N, T, 1) NaN-padded training array's size."""
    return 200 if n_values <= SMALL_SET_VALUES else 600


def pad_series(series: Sequence[np.ndarray], length: int | None = None) -> np.ndarray:
    """1-D series -> (N, T, 1) float32, NaN after each series' end; T = the longest series, or
    `length` (the official loader keeps a UCR file's width, the longest of TRAIN and TEST)."""
    if len(series) == 0:
        raise ValueError("pad_series needs at least one series")
    arrays = [np.asarray(s, dtype=np.float32) for s in series]
    for i, a in enumerate(arrays):
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"series {i} must be a non-empty 1-D array, got shape {a.shape}")
    longest = max(a.size for a in arrays)
    if length is not None and length < longest:
        raise ValueError(f"length={length} is shorter than the longest series ({longest})")
    out = np.full((len(arrays), length or longest, 1), np.nan, dtype=np.float32)
    for i, a in enumerate(arrays):
        out[i, : a.size, 0] = a
    return out


def split_long_series(data: np.ndarray, max_length: int | None) -> np.ndarray:
    """(N, T, C) -> (N * k, ceil(T / k), C) with k = T // max_length sections when k >= 2
    (NaN-padded to the first section's length), else unchanged; as official fit()."""
    sections = 0 if max_length is None else data.shape[1] // max_length
    if sections < 2:
        return data
    parts = np.array_split(data, sections, axis=1)
    width = parts[0].shape[1]
    pads = [((0, 0), (0, width - p.shape[1]), (0, 0)) for p in parts]
    padded = [np.pad(p, pad, constant_values=np.nan) for p, pad in zip(parts, pads, strict=True)]
    return np.concatenate(padded, axis=0)


def centre_series(data: np.ndarray) -> np.ndarray:
    """(N, T, C) -> (N, T, C): each row rolled so its leading and trailing missing steps split
    evenly (the extra one at the end), as official centerize_vary_length_series."""
    observed = ~np.isnan(data).all(axis=-1)  # (N, T)
    leading = observed.argmax(axis=1)  # (N,)
    trailing = observed[:, ::-1].argmax(axis=1)  # (N,)
    shift = (leading + trailing) // 2 - leading  # (N,)
    n, t = observed.shape
    source = (np.arange(t)[None, :] - shift[:, None]) % t  # (N, T)
    return data[np.arange(n)[:, None], source]


def training_array(data: np.ndarray, max_length: int | None) -> np.ndarray:
    """The official preparation before training: split long series, centre variable-length
    sets (some series miss the first or last step), drop all-missing rows."""
    data = split_long_series(data, max_length)
    missing = np.isnan(data).all(axis=-1).any(axis=0)  # (T,) a step some row misses
    if missing[0] or missing[-1]:
        data = centre_series(data)
    return data[~np.isnan(data).all(axis=(1, 2))]


@dataclass(frozen=True)
class Crops:
    """Two views of a batch: view 1 = [extended_left, right), view 2 = [left, extended_right),
    both shifted by a per-row offset; [left, right) (`length` steps) is in both."""

    length: int
    left: int
    right: int
    extended_left: int
    extended_right: int
    offsets: np.ndarray  # (B,) int, per-row shift of both views

    def views(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, T, C) -> view 1 (B, right - extended_left, C), view 2 (B, extended_right -
        left, C); view 1 ends and view 2 starts with the shared `length` steps."""
        first = take_windows(x, self.offsets + self.extended_left, self.right - self.extended_left)
        second = take_windows(x, self.offsets + self.left, self.extended_right - self.left)
        return first, second


def draw_crops(rng: np.random.Generator, length: int, batch: int, temporal_unit: int) -> Crops:
    """The official crop draw for a batch of `length` steps (same bounds, same order)."""
    shortest = 2 ** (temporal_unit + 1)
    if length < shortest:
        raise ValueError(f"series of {length} steps are shorter than the shortest crop {shortest}")
    crop = int(rng.integers(shortest, length + 1))
    left = int(rng.integers(length - crop + 1))
    right = left + crop
    extended_left = int(rng.integers(left + 1))
    extended_right = int(rng.integers(right, length + 1))
    offsets = rng.integers(-extended_left, length - extended_right + 1, size=batch)
    return Crops(crop, left, right, extended_left, extended_right, offsets)


def take_windows(x: torch.Tensor, starts: np.ndarray, length: int) -> torch.Tensor:
    """x: (B, T, C), starts: (B,) -> (B, length, C): row b is x[b, starts[b] : + length]."""
    index = torch.as_tensor(starts, device=x.device)[:, None] + torch.arange(
        length, device=x.device
    )  # (B, length)
    return x[torch.arange(x.size(0), device=x.device)[:, None], index]


def binomial_mask(
    rng: np.random.Generator, batch: int, length: int, p: float, device: torch.device
) -> torch.Tensor:
    """(B, T) bool timestamp mask, True (kept) with probability p per step."""
    return torch.from_numpy(rng.binomial(1, p, size=(batch, length)).astype(bool)).to(device)


class SamePadConv(nn.Module):
    """Dilated Conv1d whose output is as long as its input (an even receptive field would drop
    its last step, as official; kernel 3 never has one)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int):
        super().__init__()
        receptive = (kernel_size - 1) * dilation + 1
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, padding=receptive // 2, dilation=dilation)
        self.trim = 1 - receptive % 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, c_in, T) -> (B, c_out, T)."""
        out = self.conv(x)
        return out[..., : out.size(-1) - self.trim]


class DilatedBlock(nn.Module):
    """GELU -> conv -> GELU -> conv, plus the input (through a 1x1 conv when the width changes,
    and always in the final block, as official)."""

    def __init__(self, c_in: int, c_out: int, dilation: int, final: bool):
        super().__init__()
        self.conv1 = SamePadConv(c_in, c_out, KERNEL_SIZE, dilation)
        self.conv2 = SamePadConv(c_out, c_out, KERNEL_SIZE, dilation)
        self.projector = nn.Conv1d(c_in, c_out, 1) if c_in != c_out or final else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, c_in, T) -> (B, c_out, T)."""
        residual = x if self.projector is None else self.projector(x)
        return self.conv2(F.gelu(self.conv1(F.gelu(x)))) + residual


class TS2VecEncoder(nn.Module):
    """(B, T, input_dims) series, NaN = missing -> (B, T, output_dims) per-step representations."""

    def __init__(self, config: TS2VecConfig, input_dims: int = 1):
        super().__init__()
        self.config = config
        self.input_fc = nn.Linear(input_dims, config.hidden_dims)
        widths = [config.hidden_dims] * config.depth + [config.output_dims]
        c_in = config.hidden_dims
        blocks = []
        for i, width in enumerate(widths):
            blocks.append(DilatedBlock(c_in, width, 2**i, final=i == len(widths) - 1))
            c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.repr_dropout = nn.Dropout(config.repr_dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, input_dims); mask: (B, T) bool, True keeps a step (None: keep all, the
        official eval mask) -> (B, T, output_dims). Steps with a NaN are never kept."""
        observed = ~torch.isnan(x).any(dim=-1)  # (B, T)
        keep = observed if mask is None else observed & mask  # (B, T)
        h = self.input_fc(x.masked_fill(~observed[..., None], 0.0))  # (B, T, hidden)
        h = h.masked_fill(~keep[..., None], 0.0)  # (B, T, hidden)
        z = self.blocks(h.transpose(1, 2))  # (B, output, T)
        return self.repr_dropout(z).transpose(1, 2)  # (B, T, output)


def fit_ts2vec(
    series: Sequence[np.ndarray],
    config: TS2VecConfig,
    seed: int,
    device: torch.device | str = CPU,
    on_step: Callable[[int, float], None] | None = None,
    *,
    length: int | None = None,
) -> tuple[nn.Module, list[float]]:
    """Train TS2Vec on 1-D series (NaN = missing) -> (the weight-averaged encoder, in eval mode;
    the loss of every step). `length`: the padded width (default the longest series; the
    official loader uses the file's). on_step(step, loss) is called after every step."""
    data = pad_series(series, length)  # (N, T, 1)
    steps = default_steps(data.size) if config.steps == "auto" else config.steps
    data = training_array(data, config.max_train_length)  # (N', T', 1)
    n, t, _ = data.shape
    if n == 0:
        raise ValueError("every training series is entirely missing")
    if t < config.min_crop_length:
        raise ValueError(f"series of {t} steps are shorter than the shortest crop")
    device = torch.device(device)
    rng = np.random.default_rng(seed)
    batch = min(config.batch_size, n)
    window = config.max_train_length
    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(seed)
        net = TS2VecEncoder(config).to(device)
        averaged = AveragedModel(net)
        averaged.update_parameters(net)  # the average starts with the initial weights
        optimizer = torch.optim.AdamW(net.parameters(), lr=config.learning_rate)
        inputs = torch.from_numpy(data)  # (N', T', 1)
        losses: list[float] = []
        while len(losses) < steps:
            order = rng.permutation(n)
            for start in range(0, n - batch + 1, batch):  # drop_last
                if len(losses) == steps:
                    break
                x = inputs[order[start : start + batch]]  # (B, T', 1)
                if window is not None and x.size(1) > window:
                    offset = int(rng.integers(x.size(1) - window + 1))
                    x = x[:, offset : offset + window]
                x = x.to(device)
                crops = draw_crops(rng, x.size(1), batch, config.temporal_unit)
                first, second = crops.views(x)
                mask1 = binomial_mask(rng, batch, first.size(1), config.mask_p, device)
                out1 = net(first, mask1)[:, -crops.length :]  # (B, crop, D)
                mask2 = binomial_mask(rng, batch, second.size(1), config.mask_p, device)
                out2 = net(second, mask2)[:, : crops.length]  # (B, crop, D)
                loss = hierarchical_contrastive_loss(out1, out2, config.alpha, config.temporal_unit)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                averaged.update_parameters(net)
                losses.append(loss.item())
                if on_step is not None:
                    on_step(len(losses), losses[-1])
    return averaged.eval(), losses


def encode_series(
    model: nn.Module,
    series: Sequence[np.ndarray],
    batch_size: int = 8,
    *,
    length: int | None = None,
) -> np.ndarray:
    """1-D series -> (N, output_dims) float32: every step encoded (eval mode, no mask), then the
    max over all T steps, NaN padding included, as official encode(encoding_window=
    'full_series'). Not centred: the official centres only the training copy."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    data = torch.from_numpy(pad_series(series, length))  # (N, T, 1)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    pooled = []
    with torch.no_grad():
        for start in range(0, data.size(0), batch_size):
            z = model(data[start : start + batch_size].to(device))  # (b, T, D)
            pooled.append(z.amax(dim=1).cpu())  # (b, D)
    model.train(was_training)
    return torch.cat(pooled).numpy()
