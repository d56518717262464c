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

from csft.data.resampling import resample
from csft.data.splits import ucr_validation_split
from csft.data.ucr import UCRDataset, UCRSplit
from csft.device import device_of
from csft.models import placement as placements
from csft.models.csft import CSFTConfig, length_plan, place_on_grid
from csft.training.loop import Loop

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

    def file_width(self) -> int:
        """The longest series of TRAIN and TEST: the width of the archive's files (their NaN
        end-padding), layout that is public before any model runs; no TEST value or label."""
        return max(len(s) for s in self.train.series + self.val.series + self._test.series)

    def unseal(self) -> UCRSplit:
        """Open TEST for the single final evaluation; a second call is an error."""
        if not self._sealed:
            raise SealedTestError(f"{self.name}: TEST was already opened once")
        self._sealed = False
        log.info("%s: TEST unsealed for the final evaluation", self.name)
        return self._test


def seal(
    dataset: UCRDataset, selection: str, validation_fraction: float, seed: int
) -> SealedSplits:
    """TRAIN for fitting, a validation split of it when the selection policy needs one, TEST
    sealed.

    "fixed_budget": all of TRAIN fits, the validation split is empty. "validation": a
    stratified `validation_fraction` of TRAIN, drawn with `seed` (the run's seed, so the
    spread over seeds includes the split's), which needs two TRAIN series of every class.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"classify.selection must be one of {SELECTIONS}, got {selection!r}")
    train = dataset.train
    if selection == "fixed_budget":
        empty = UCRSplit([], train.labels[:0])
        return SealedSplits(dataset.name, dataset.n_classes, train, empty, dataset.test)
    counts = np.bincount(train.labels, minlength=dataset.n_classes)
    if counts.min() < 2:
        per_class = {str(c): int(n) for c, n in zip(dataset.classes, counts, strict=True)}
        raise ValueError(
            f"dataset {dataset.name}: selection 'validation' needs at least 2 TRAIN series per "
            f"class for a stratified validation split; TRAIN class counts {per_class}; use "
            "classify.selection: [fixed_budget] for it"
        )
    train_idx, val_idx = ucr_validation_split(train.labels, validation_fraction, seed)

    def subset(indices: np.ndarray) -> UCRSplit:
        return UCRSplit([train.series[i] for i in indices], train.labels[indices])

    return SealedSplits(
        dataset.name, dataset.n_classes, subset(train_idx), subset(val_idx), dataset.test
    )


def to_length(series: list[np.ndarray], length: int, policy: str = "resample") -> np.ndarray:
    """Series of any lengths -> (N, length) float32 for models that need equal lengths.

    "resample": csft.data.resampling (low-pass before shortening, linear interpolation with both
    end points kept; the same resampling CSFT's length rule uses), so a series keeps its
    whole shape.
    """
    if policy not in EQUAL_LENGTH_POLICIES:
        raise ValueError(f"length policy must be one of {EQUAL_LENGTH_POLICIES}, got {policy!r}")
    if length < 2:
        raise ValueError(f"target length must be >= 2, got {length}")
    out = np.empty((len(series), length), dtype=np.float32)
    for i, values in enumerate(series):
        x = torch.as_tensor(np.asarray(values, dtype=np.float32)).view(1, -1)  # (1, T)
        out[i] = resample(x, length)[0].numpy()  # (length,)
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


SELECTIONS = ("fixed_budget", "validation")
SMALL_TRAIN_VALUES = 100_000  # TS2Vec's step rule: 200 steps up to this many TRAIN values, else 600


def step_budget(steps: int | str, n_values: int, where: str) -> int:
    """A configured budget: a positive number of optimizer steps, or "auto" (default_steps of
    a TRAIN set of `n_values` values). Anything else is an error naming `where`."""
    if steps == "auto":
        return default_steps(n_values)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            f"{where}.steps must be a positive number of steps or 'auto', got {steps!r}"
        )
    return steps


def default_steps(n_values: int) -> int:
    """TS2Vec's optimizer-step budget for a TRAIN set of `n_values` values (series x longest
    length, the NaN-padded array): 200 steps up to 100,000 values, 600 above."""
    return 200 if n_values <= SMALL_TRAIN_VALUES else 600


def train_values(series: list[np.ndarray]) -> int:
    """Values of TRAIN as the step rule counts them: series x the longest length."""
    return len(series) * max((len(s) for s in series), default=0)


@dataclass(frozen=True)
class ClassifierTraining:
    """Supervised recipe of a neural classifier: a budget of optimizer steps.

    `steps` "auto" means default_steps of the TRAIN set. Under the `fixed_budget` selection every
    step runs and the final weights are kept; under `validation` the weights with the lowest
    validation loss (checked after every pass over the training part) are kept, and training
    stops after `patience` passes without a better one.
    """

    batch_size: int = 8
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    steps: int | str = "auto"
    patience: int = 10
    fast_dropout: bool = True  # CPU dropout masks from 16-bit draws (csft.models.dropout)
    precision: str = "fp32"  # "bf16": bfloat16 autocast of training forward passes

    def __post_init__(self) -> None:
        for name in ("batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"training.{name} must be >= 1, got {getattr(self, name)}")
        step_budget(self.steps, 0, "training")

    def budget(self, n_values: int) -> int:
        return step_budget(self.steps, n_values, "training")


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
    steps: int,
) -> list[dict[str, float]]:
    """AdamW + cross-entropy for `steps` optimizer steps; one history row per pass over `train`.

    Each group holds series of one length (the model maps (B, T) -> (B, K) logits). With a
    validation split the best pass's weights (lowest validation loss) are restored and
    training stops after `config.patience` passes without a better one; without one (the
    fixed_budget selection) every step runs and the final weights are kept.
    """
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    val_y = torch.cat([g.y for g in val]) if val else torch.empty(0, dtype=torch.long)
    device = device_of(model)
    loop = Loop(
        name="classifier",
        modules={"model": model},
        optimizer=optimizer,
        generator=generator,
        max_steps=steps,
        patience=config.patience,
        fast_dropout=config.fast_dropout,
        precision=config.precision,
    )

    def train_pass(epoch: int) -> dict[str, float]:
        losses = []
        for g, batch in _batches(train, config.batch_size, generator):
            if loop.spent():
                break
            if len(batch) < 2 and len(train[g].index) > 1:
                continue  # BatchNorm-style layers cannot train on a single example
            optimizer.zero_grad()
            x, y = train[g].x[batch].to(device), train[g].y[batch].to(device)
            with loop.autocast():
                loss = F.cross_entropy(model(x), y)
            losses.append(loop.step(loss))
        if not losses:
            raise ValueError(
                f"no optimizer step in a pass: batch_size {config.batch_size} leaves only "
                "single-series batches"
            )
        return {"train_loss": float(np.mean(losses)), "steps": loop.state.steps, "epoch": epoch}

    def validate(epoch: int) -> dict[str, float]:
        if not len(val_y):
            return {}
        logits = torch.cat([predict_logits(model, g.x, config.batch_size) for g in val])
        return {
            "val_loss": float(F.cross_entropy(logits, val_y)),
            "val_accuracy": float((logits.argmax(1) == val_y).float().mean()),
        }

    return loop.run(train_pass, validate)


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


SVM_C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4, np.inf)
SVM_MAX_TRAIN = 10_000
SVM_SEARCH_MAX_ITER = 10_000_000  # TS2Vec's grid-search SVC; without it a hard margin on
# features that do not separate (a smoke budget's) ran libsvm for over 15 minutes per fit


def svm_on_features(features: np.ndarray, labels: np.ndarray):
    """RBF SVM (gamma "scale") on frozen features, the SVM protocol of TS2Vec (Yue et al. 2022).

    C = infinity (a hard margin) without search when TRAIN is small: fewer than 50 series or
    fewer than 5 per class on average (TS2Vec's `n // n_classes < 5`), where 5-fold CV has
    too little to choose with; otherwise 5-fold stratified CV (unshuffled, as TS2Vec's
    `cv=5`) over C in SVM_C_GRID on TRAIN only, on a stratified subsample of 10,000 series
    when TRAIN is larger, each search SVC capped at SVM_SEARCH_MAX_ITER iterations as TS2Vec's.
    The fitted SVC's `C` is the chosen value.
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
    from sklearn.svm import SVC

    labels = np.asarray(labels)
    n_classes = len(np.unique(labels))
    svm = SVC(kernel="rbf", gamma="scale", C=np.inf)
    if len(labels) < 50 or len(labels) // n_classes < 5:
        return svm.fit(features, labels)
    if len(labels) > SVM_MAX_TRAIN:
        features, _, labels, _ = train_test_split(
            features, labels, train_size=SVM_MAX_TRAIN, random_state=0, stratify=labels
        )
    svm.set_params(max_iter=SVM_SEARCH_MAX_ITER)  # C comes from the grid
    search = GridSearchCV(svm, {"C": list(SVM_C_GRID)}, cv=StratifiedKFold(5), n_jobs=1)
    return search.fit(features, labels).best_estimator_


def own_grid(length: int, config: CSFTConfig, policy: str, where: str) -> int:
    """The grid a series of `length` points sits on: its interval's 2^k ("per_interval") or
    the grid of `config.lookback`'s interval ("common"); out-of-range lengths are errors."""
    if policy not in INTERVAL_POLICIES:
        raise ValueError(f"policy must be one of {INTERVAL_POLICIES}, got {policy!r}")
    try:
        plan = length_plan(length, config.patch_len, config.min_length, config.max_length)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return plan.grid_length if policy == "per_interval" else config.plan.grid_length


def grid_width(grid: int, config: CSFTConfig) -> int:
    """d_L of a grid: the width of H_L there, which decides the head or SVM it shares."""
    return config.widths()[int(np.log2(grid // config.patch_len))]


def plan_grids(
    series: list[np.ndarray], labels: np.ndarray, config: CSFTConfig, policy: str
) -> dict[int, int]:
    """Own grid -> the grid the fitting data's series of that grid are placed on.

    Grids that share a width (d_max caps it) share one head or SVM, so they are judged
    together: a width whose series lack a class of the fitting data could never predict that
    class, and its grids move to the nearest grid (in log2 steps, the longer on a tie) whose
    width holds every class. When no width holds every class, every grid moves to the
    longest one (the common policy's grid).
    """
    labels = np.asarray(labels)
    grids = np.array(
        [own_grid(len(s), config, policy, f"series {i}") for i, s in enumerate(series)]
    )
    classes = set(labels.tolist())
    widths = {g: grid_width(g, config) for g in set(grids.tolist())}

    def classes_of_width(width: int) -> set:
        return set(labels[np.isin(grids, [g for g in widths if widths[g] == width])].tolist())

    complete = sorted(g for g in widths if classes_of_width(widths[g]) == classes)
    if not complete:
        longest = max(widths)
        return dict.fromkeys(widths, longest)
    return {
        g: min(complete, key=lambda c: (abs(np.log2(c) - np.log2(g)), -c)) for g in sorted(widths)
    }


def csft_groups(
    series: list[np.ndarray],
    labels: np.ndarray,
    config: CSFTConfig,
    policy: str = "per_interval",
    grid_map: dict[int, int] | None = None,
) -> list[Group]:
    """Place each series on a CSFT grid and group equal grids, for CSFTClassifier.

    "per_interval": each series on its own interval's grid (2^k for T in [2^k, 2^(k+1)));
    "common": every series on the grid of `config.lookback`'s interval (the longest series').
    `grid_map` (plan_grids of the fitting data) moves a grid to the grid it was fitted on; a
    series whose own grid the fitting data never reached goes to the deepest fitted grid
    below it (else the shallowest), since only fitted grids have a head. Lengths outside
    [min_length, max_length) are errors naming the series and its length.
    """
    fitted = sorted(set(grid_map.values())) if grid_map else []
    grids = {}
    for i, values in enumerate(series):
        grid = own_grid(len(values), config, policy, f"series {i}")
        if grid_map and grid in grid_map:
            grid = grid_map[grid]
        elif fitted:
            below = [g for g in fitted if g <= grid]
            grid = max(below) if below else min(fitted)
        grids.setdefault(grid, []).append(i)
    groups = []
    for grid, index in sorted(grids.items()):
        if config.missing_mask:  # time-aware: observed points at their timestamps, NaN elsewhere
            x = torch.stack(
                [
                    placements.place_observed(torch.as_tensor(series[i], dtype=torch.float32), grid)
                    for i in index
                ]  # fmt: skip
            )
        else:
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
