"""Classification splits with a sealed TEST: no decision can be taken on TEST by accident.

The task loop gets TRAIN (minus validation) and the stratified validation split freely; TEST is
sealed and `SealedSplits.test()` raises until `unseal()` is called, once, for the single final
evaluation after every model-selection step (early stopping, hyperparameters) is done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from csft.data.splits import ucr_validation_split
from csft.data.ucr import UCRDataset, UCRSplit
from csft.device import device_of
from csft.model import CSFTConfig, length_plan, place_on_grid

log = logging.getLogger(__name__)

EQUAL_LENGTH_POLICIES = ("resample",)
INTERVAL_POLICIES = ("per_interval", "common")
SHORT_SERIES_POLICIES = ("error", "resample")


class SealedTestError(RuntimeError):
    """TEST was asked for before the final evaluation."""


@dataclass
class SealedSplits:
    """TRAIN/validation in the open, TEST sealed until `unseal()`."""

    name: str
    n_classes: int
    train: UCRSplit
    val: UCRSplit
    _test: UCRSplit = field(repr=False)
    _sealed: bool = field(default=True, repr=False)

    def test(self) -> UCRSplit:
        if self._sealed:
            raise SealedTestError(
                f"{self.name}: TEST is sealed until the final evaluation; model selection "
                "uses the validation split of TRAIN only"
            )
        return self._test

    def unseal(self) -> UCRSplit:
        """Open TEST for the single final evaluation; a second call is an error."""
        if not self._sealed:
            raise SealedTestError(f"{self.name}: TEST was already opened once")
        self._sealed = False
        log.info("%s: TEST unsealed for the final evaluation", self.name)
        return self._test


def seal(dataset: UCRDataset, validation_fraction: float, seed: int) -> SealedSplits:
    """Split a stratified validation set off TRAIN and seal TEST."""
    train_idx, val_idx = ucr_validation_split(dataset.train.labels, validation_fraction, seed)

    def subset(indices: np.ndarray) -> UCRSplit:
        return UCRSplit([dataset.train.series[i] for i in indices], dataset.train.labels[indices])

    return SealedSplits(
        dataset.name, dataset.n_classes, subset(train_idx), subset(val_idx), dataset.test
    )


def to_length(series: list[np.ndarray], length: int, policy: str = "resample") -> np.ndarray:
    """Series of any lengths -> (N, length) float32 for models that need equal lengths.

    "resample": linear interpolation onto `length` points with both end points kept (the
    same resampling CSFT's length rule uses), so a series keeps its whole shape.
    """
    if policy not in EQUAL_LENGTH_POLICIES:
        raise ValueError(f"length policy must be one of {EQUAL_LENGTH_POLICIES}, got {policy!r}")
    if length < 2:
        raise ValueError(f"target length must be >= 2, got {length}")
    out = np.empty((len(series), length), dtype=np.float32)
    for i, values in enumerate(series):
        x = torch.as_tensor(np.asarray(values, dtype=np.float32)).view(1, 1, -1)  # (1, 1, T)
        if x.shape[-1] == 1:
            x = x.expand(1, 1, 2)
        resampled = F.interpolate(x, size=length, mode="linear", align_corners=True)
        out[i] = resampled.view(-1).numpy()  # (length,)
    return out


def lengthen_short(
    series: list[np.ndarray], min_length: int, policy: str, where: str
) -> list[np.ndarray]:
    """Series shorter than `min_length` (CSFT's shortest supported T): an error naming the
    first one (`where`, its index and length), or resampled up to `min_length` points.

    Applied to every model's input alike, so all models see the same series.
    """
    if policy not in SHORT_SERIES_POLICIES:
        raise ValueError(f"short_series must be one of {SHORT_SERIES_POLICIES}, got {policy!r}")
    short = [i for i, values in enumerate(series) if len(values) < min_length]
    if short and policy == "error":
        i = short[0]
        raise ValueError(
            f"{where}: series {i} has length {len(series[i])}, below the minimum {min_length} "
            f"({len(short)} such series); set ucr.short_series: resample to resample them up"
        )
    out = list(series)
    for i in short:
        out[i] = to_length([series[i]], min_length)[0]
    return out


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class ClassifierTraining:
    """Recipe of a neural classifier; selection by validation loss only."""

    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    epochs: int = 50
    patience: int = 10


@dataclass
class Group:
    """Series of one length (one grid), their labels and their positions in the split."""

    index: np.ndarray  # (n,) positions in the split
    x: torch.Tensor  # (n, length)
    y: torch.Tensor  # (n,)


def equal_length_groups(x: torch.Tensor, y: torch.Tensor) -> list[Group]:
    """One group holding every series (a model that takes one length)."""
    return [Group(np.arange(len(x)), x, y)]


def _batches(
    groups: list[Group], size: int, generator: torch.Generator
) -> list[tuple[int, torch.Tensor]]:
    """Shuffled batches, each inside one group; batch order shuffled across groups."""
    batches = []
    for g, group in enumerate(groups):
        order = torch.randperm(len(group.index), generator=generator)
        batches += [(g, order[i : i + size]) for i in range(0, len(order), size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator)]


def fit_classifier(
    model: torch.nn.Module,
    train: list[Group],
    val: list[Group],
    config: ClassifierTraining,
    generator: torch.Generator,
) -> list[dict[str, float]]:
    """AdamW + cross-entropy; early stopping on validation loss; best weights restored.

    Each group holds series of one length (the model maps (B, T) -> (B, K) logits). With an
    empty validation split (every class a singleton in TRAIN) training runs all epochs and
    keeps the last weights: nothing else may stand in for validation.
    """
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    val_y = torch.cat([g.y for g in val]) if val else torch.empty(0, dtype=torch.long)
    device = device_of(model)
    best_loss, best_state, stale, history = float("inf"), None, 0, []
    for epoch in range(1, config.epochs + 1):
        model.train()
        losses = []
        for g, batch in _batches(train, config.batch_size, generator):  # every training example
            if len(batch) < 2 and len(train[g].index) > 1:
                continue  # BatchNorm-style layers cannot train on a single example
            optimizer.zero_grad()
            x, y = train[g].x[batch].to(device), train[g].y[batch].to(device)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        row = {"train_loss": float(np.mean(losses)), "epoch": epoch}
        if len(val_y):
            logits = torch.cat([predict_logits(model, g.x, config.batch_size) for g in val])
            row["val_loss"] = float(F.cross_entropy(logits, val_y))
            row["val_accuracy"] = float((logits.argmax(1) == val_y).float().mean())
        history.append(row)
        if "val_loss" not in row:
            continue
        if row["val_loss"] < best_loss:
            best_loss, stale = row["val_loss"], 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def predict_logits(model: torch.nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Logits of every series, in order, in eval mode, on the CPU: (N, T) -> (N, K)."""
    device = device_of(model)
    model.eval()
    with torch.no_grad():
        return torch.cat(
            [model(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)]
        )


def predict_groups(model: torch.nn.Module, groups: list[Group], batch_size: int) -> torch.Tensor:
    """Logits of every series of a split, back in the split's order: (N, K)."""
    parts = [(g.index, predict_logits(model, g.x, batch_size)) for g in groups]
    n = sum(len(index) for index, _ in parts)
    out = torch.empty(n, parts[0][1].shape[1])
    for index, logits in parts:
        out[torch.as_tensor(index)] = logits
    return out


def svm_on_features(features: np.ndarray, labels: np.ndarray, seed: int):
    """RBF SVM on frozen features with C chosen by cross-validation on TRAIN (TS2Vec protocol).

    C from {1e-4, ..., 1e4}; folds = min(5, smallest class count); a dataset whose smallest
    class has one example gets C = 1 without search (cross-validation is impossible there).
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    smallest = int(np.bincount(labels).min(initial=0)) if len(labels) else 0
    svm = SVC(kernel="rbf", gamma="scale")
    if smallest < 2:
        return svm.set_params(C=1.0).fit(features, labels)
    folds = StratifiedKFold(n_splits=min(5, smallest), shuffle=True, random_state=seed)
    search = GridSearchCV(svm, {"C": [10.0**k for k in range(-4, 5)]}, cv=folds, n_jobs=1)
    return search.fit(features, labels).best_estimator_


def csft_groups(
    series: list[np.ndarray],
    labels: np.ndarray,
    config: CSFTConfig,
    policy: str = "per_interval",
    trained_grids: list[int] | None = None,
) -> list[Group]:
    """Place each series on a CSFT grid and group equal grids, for CSFTClassifier.

    "per_interval": each series on its own interval's grid (2^k for T in [2^k, 2^(k+1)));
    "common": every series on the grid of `config.lookback`'s interval (the longest series').
    `trained_grids` (validation and TEST): the grids training reached; a series whose own grid
    is not among them goes to the deepest trained grid below it (else the shallowest), since
    only trained depths have a head. Lengths outside [min_length, max_length) are errors
    naming the series and its length.
    """
    if policy not in INTERVAL_POLICIES:
        raise ValueError(f"policy must be one of {INTERVAL_POLICIES}, got {policy!r}")
    grids = {}
    for i, values in enumerate(series):
        try:
            plan = length_plan(len(values), config.patch_len, config.min_length, config.max_length)
        except ValueError as error:
            raise ValueError(f"series {i}: {error}") from None
        grid = plan.grid_length if policy == "per_interval" else config.plan.grid_length
        if trained_grids and grid not in trained_grids:
            below = [g for g in trained_grids if g <= grid]
            grid = max(below) if below else min(trained_grids)
        grids.setdefault(grid, []).append(i)
    groups = []
    for grid, index in sorted(grids.items()):
        x = torch.stack(
            [place_on_grid(torch.as_tensor(series[i]).view(1, -1), grid)[0] for i in index]
        )
        groups.append(Group(np.array(index), x, torch.as_tensor(labels[index])))
    return groups


class GroupBatches:
    """(x (B, T, 1), y) batches of grouped series, each batch inside one group (one grid), for
    pretraining: reshuffled on every pass when training, in order and complete otherwise."""

    def __init__(
        self, groups: list[Group], batch_size: int, training: bool, generator: torch.Generator
    ):
        self.groups, self.batch_size = groups, batch_size
        self.training, self.generator = training, generator

    def _indices(self) -> list[tuple[int, torch.Tensor]]:
        if self.training:
            return _batches(self.groups, self.batch_size, self.generator)
        return [
            (g, torch.arange(i, min(i + self.batch_size, len(group.index))))
            for g, group in enumerate(self.groups)
            for i in range(0, len(group.index), self.batch_size)
        ]

    def __len__(self) -> int:
        return sum(-(-len(g.index) // self.batch_size) for g in self.groups)

    def __iter__(self):
        for g, batch in self._indices():
            group = self.groups[g]
            yield group.x[batch].unsqueeze(-1), group.y[batch]  # (B, T, 1), (B,)


def represent_groups(encoder: torch.nn.Module, groups: list[Group], batch_size: int) -> list:
    """Frozen H_L of every group's series (eval mode, no grad): per group (n, d_L) numpy."""
    device = device_of(encoder)
    encoder.eval()
    with torch.no_grad():
        return [
            torch.cat(
                [
                    encoder.represent(g.x[i : i + batch_size].to(device)).cpu()
                    for i in range(0, len(g.x), batch_size)
                ]
            ).numpy()
            for g in groups
        ]
