"""The boundary-lengths experiment: does crossing a log2 boundary change CSFT's representation
more than moving inside one interval?

CSFT gives every T in [2^k, 2^(k+1)) the same grid, depth and feature space, and one more CTL
from 2^(k+1) on. So H_L of the same most-recent data cut at lengths inside one interval (512 and
1023) should be closer than at lengths across a boundary (1023 and 1024, 2047 and 2048). One
encoder serves every length (the classification track's per-interval policy: each series on its
own interval's grid, shared scales share weights); cosine similarity needs one width d_L for
every depth used (d_max).

Similarity is centered: each length's mean H_L over series is subtracted before the cosine of
the same series at two lengths, and it is set against chance, the cosine with *other* series.
The raw cosine of vectors that share a large common component is ~1 for any two inputs, so a
collapsed representation would otherwise read as "supported"; it is kept, labelled raw, for
reference. A collapsed H_L (csft.diagnostics.representation_health) gets no verdict. Per-series
values are averaged over seeds (one encoder per seed, the same series) and bootstrapped over
series (csft.report.verdicts.mean_interval).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from csft import atomic, tracking
from csft.data.ett import ETT_COLUMNS, TARGET, ETTSeries
from csft.device import DEVICES, resolve_device
from csft.diagnostics import representation_health
from csft.jobs.common import (
    PlainDict,
    Tracking,
    check,
    check_choice,
    check_int,
    check_ints,
    check_mapping,
    check_recipe,
    device_tags,
    tracking_for,
)
from csft.models.csft import CSFTConfig, CSFTEncoder, length_plan
from csft.report.verdicts import NO_DIFFERENCE, interval_text, mean_interval
from csft.training.classify import GroupBatches, csft_groups, represent_groups
from csft.training.pretrain import PretrainConfig, pretrain
from csft.training.seeding import seed_everything

log = logging.getLogger(__name__)

BATCH_SIZE = 256  # series per forward pass when representing (memory only, not results)
KINDS = ["centered", "baseline", "raw"]  # the per-series similarities series_similarity gives


def active_ctls(lengths: list[int], config: CSFTConfig) -> pd.Series:
    """L = length_plan(T).n_ctl of every T (indexed by T): the depth CSFT gives that length."""
    return length_table(lengths, config).set_index("T").active_ctls


def length_table(lengths: list[int], config: CSFTConfig) -> pd.DataFrame:
    """T (each once), active_ctls and the log2 interval [interval_low, interval_high) of T."""
    plans = [
        length_plan(int(t), config.patch_len, config.min_length, config.max_length)
        for t in sorted({int(t) for t in lengths})
    ]
    return pd.DataFrame(
        {
            "T": [plan.length for plan in plans],
            "active_ctls": [plan.n_ctl for plan in plans],
            "interval_low": [plan.interval[0] for plan in plans],
            "interval_high": [plan.interval[1] for plan in plans],
        }
    )


def common_width(config: CSFTConfig, lengths: list[int]) -> int:
    """The one d_L of every depth the lengths reach; an error naming the widths otherwise,
    since cosine similarity between vectors of different widths is undefined."""
    widths, table = config.widths(), length_table(lengths, config)
    too_long = table.loc[table.active_ctls >= len(widths), "T"].tolist()
    if too_long:
        low, high = config.plan.interval
        raise ValueError(
            f"lengths {too_long} are beyond this encoder's interval [{low}, {high}): build it "
            "for the longest length"
        )
    by_depth = {int(depth): widths[depth] for depth in set(table.active_ctls)}
    if len(set(by_depth.values())) > 1:
        named = ", ".join(f"L={depth}: d_L={width}" for depth, width in sorted(by_depth.items()))
        raise ValueError(
            f"H_L widths differ across the depths these lengths use ({named}; d_model="
            f"{config.d_model}, d_max={config.d_max}): cosine similarity between vectors of "
            f"different widths is undefined; set architecture d_max <= {min(by_depth.values())} "
            "so every depth has the same width"
        )
    return next(iter(by_depth.values()))


def _series_groups(by_length: dict[int, np.ndarray], config: CSFTConfig, grids=None) -> list:
    """Every row of every length as a univariate series, on its own interval's grid."""
    series = [np.asarray(row, dtype=np.float32) for t in sorted(by_length) for row in by_length[t]]
    grid_map = {g: g for g in grids} if grids else None
    return csft_groups(series, np.zeros(len(series), np.int64), config, "per_interval", grid_map)


def pretrain_multi_length(
    series_by_length: dict[int, np.ndarray],
    val_by_length: dict[int, np.ndarray] | None,
    architecture: dict,
    pretraining: dict,
    seed: int,
    *,
    on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, row: None,
    device: str = "cpu",
) -> CSFTEncoder:
    """One encoder for the longest length's interval, SSL-pretrained on every length at once.

    `series_by_length[T]` is (n, T); each series sits on its own interval's grid and batches
    stay inside one grid, so a shorter interval trains the scales it shares with longer ones.
    `val_by_length` (same layout, or None) is the early-stopping split; `device` is the
    config's (auto | cpu | cuda).
    """
    if not series_by_length:
        raise ValueError("series_by_length is empty: pretraining needs series of some length")
    generator = seed_everything(seed)
    config = CSFTConfig(lookback=max(series_by_length), horizon=1, n_channels=1, **architecture)
    width = common_width(config, [*series_by_length, *(val_by_length or {})])
    train = _series_groups(series_by_length, config)
    grids = sorted(g.x.shape[1] for g in train)
    val = _series_groups(val_by_length, config, grids) if val_by_length else None
    log.info(
        "pretraining on grids %s, model interval %s, d_L %d", grids, config.plan.interval, width
    )
    encoder = CSFTEncoder(config).to(resolve_device(device))
    pretrain(
        encoder,
        train,
        val,
        PretrainConfig(**pretraining),
        generator,
        on_epoch,
        batches=GroupBatches,
    )
    return encoder.eval()


def end_points(n_values: int, n_series: int, stride: int) -> np.ndarray:
    """Exclusive end indices of n_series windows, `stride` apart, the last at the array's end
    (so every window ends inside the stretch given, e.g. the test split after its history)."""
    if n_series < 1 or stride < 1:
        raise ValueError(f"n_series and stride must be >= 1, got {n_series} and {stride}")
    return n_values - stride * np.arange(n_series)[::-1]


def max_series(n_values: int, longest: int, stride: int) -> int:
    """How many windows of `longest` values with ends `stride` apart fit in n_values."""
    return max(0, (n_values - longest) // stride + 1)


def cut_lengths(
    values: np.ndarray, lengths: list[int], n_series: int, stride: int, where: str = "values"
) -> dict[int, np.ndarray]:
    """T -> (n_series, T) float32: the last T values before each shared end point.

    Every length sees the same most-recent data, so lengths differ only in how far back they
    reach. `where` names the array in the error raised when it is too short.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 1:
        raise ValueError(f"{where}: expected a 1-D array, got shape {values.shape}")
    if not lengths or min(lengths) < 1:
        raise ValueError(f"lengths must be a non-empty list of positive ints, got {lengths}")
    ends = end_points(len(values), n_series, stride)
    longest = max(lengths)
    if ends[0] < longest:
        raise ValueError(
            f"{where} has {len(values)} values; {n_series} windows of the longest length "
            f"T={longest} with end points {stride} apart need {longest + (n_series - 1) * stride}"
            f" (at most {max_series(len(values), longest, stride)} windows fit)"
        )
    cuts = {}
    for t in sorted({int(t) for t in lengths}):
        windows = np.lib.stride_tricks.sliding_window_view(values, t)  # (len - t + 1, t)
        cuts[t] = np.ascontiguousarray(windows[ends - t])  # (n_series, t)
    return cuts


def represent_lengths(encoder: CSFTEncoder, cuts: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """T -> H_L (n, d_L) of every cut, each on its own interval's grid (eval mode, no grad).

    cuts[T] must hold the same series in the same order for every T: similarity compares series
    i at one length with series i at another.
    """
    config = encoder.config
    counts = {t: len(x) for t, x in cuts.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"every length needs the same series; series per length: {counts}")
    common_width(config, list(cuts))
    return {
        t: represent_groups(encoder, _series_groups({t: cuts[t]}, config), BATCH_SIZE)[0]
        for t in sorted(cuts)  # one group per length: one grid
    }


def series_similarity(features: dict[int, np.ndarray]) -> pd.DataFrame:
    """T_i, T_j, series, centered, baseline, raw: one row per series and pair T_i < T_j.

    A component every series shares makes the raw cosine of any two inputs ~1, so each length's
    mean over series is subtracted first: `centered` is the cosine of series i at T_i with
    series i at T_j, `baseline` the mean cosine of series i at T_i with every other series at
    T_j (chance level), `raw` the uncentered cosine of series i (kept for reference only). The
    diagonal T_i == T_j (1 by construction) is no evidence and is left out.
    """
    from sklearn.metrics.pairwise import cosine_similarity, paired_cosine_distances

    lengths = sorted(features)
    counts = {t: len(features[t]) for t in lengths}
    if len(lengths) < 2 or len(set(counts.values())) != 1 or min(counts.values()) < 2:
        raise ValueError(f"need >= 2 lengths with the same >= 2 series each; got {counts}")
    n = counts[lengths[0]]
    raw = {t: np.asarray(features[t], dtype=np.float64) for t in lengths}
    centered = {t: x - x.mean(axis=0) for t, x in raw.items()}
    others = ~np.eye(n, dtype=bool)
    rows = []
    for a, b in combinations(lengths, 2):
        cosine = cosine_similarity(centered[a], centered[b])  # [i, j]: series i at a, j at b
        rows.append(
            pd.DataFrame(
                {
                    "T_i": a,
                    "T_j": b,
                    "series": np.arange(n),
                    "centered": np.diag(cosine),
                    "baseline": cosine[others].reshape(n, n - 1).mean(axis=1),
                    "raw": 1.0 - paired_cosine_distances(raw[a], raw[b]),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def seed_similarity(features_by_seed: dict[int, dict[int, np.ndarray]]) -> pd.DataFrame:
    """series_similarity of every seed's H_L ({seed: {T: (n, d_L)}}), with a `seed` column."""
    return pd.concat(
        [series_similarity(f).assign(seed=seed) for seed, f in features_by_seed.items()],
        ignore_index=True,
    )[["seed", "T_i", "T_j", "series", *KINDS]]


def similarity_means(table: pd.DataFrame) -> pd.DataFrame:
    """seed, T_i, T_j, kind, similarity: the mean over series of each kind per seed, and per
    pair over seeds (seed "mean"), long (the lengths.csv table)."""
    per_seed = table.groupby(["seed", "T_i", "T_j"])[KINDS].mean().reset_index()
    over_seeds = per_seed.groupby(["T_i", "T_j"])[KINDS].mean().reset_index().assign(seed="mean")
    both = pd.concat([per_seed.astype({"seed": object}), over_seeds], ignore_index=True)
    return both.melt(["seed", "T_i", "T_j"], KINDS, var_name="kind", value_name="similarity")


def _same_interval(table: pd.DataFrame, active_ctls: pd.Series) -> np.ndarray:
    """Whether each row's T_i and T_j get the same depth (one log2 interval)."""
    lengths = sorted({*table.T_i, *table.T_j})
    missing = sorted(set(lengths) - set(active_ctls.index))
    if missing:
        raise ValueError(f"active_ctls lacks the lengths {missing} of the similarity table")
    return active_ctls[table.T_i].to_numpy() == active_ctls[table.T_j].to_numpy()


def series_scores(table: pd.DataFrame, active_ctls: pd.Series) -> pd.DataFrame:
    """Per series (each value first averaged over seeds): within / across, the mean centered
    cosine over within- / across-interval pairs; baseline, the chance level over all pairs;
    raw_within / raw_across, the same means of the raw cosine. The bootstrap resamples these."""
    pairs = table.groupby(["T_i", "T_j", "series"])[KINDS].mean().reset_index()
    pairs["pair"] = np.where(_same_interval(pairs, active_ctls), "within", "across")
    if pairs.pair.nunique() < 2:
        lengths = sorted({*table.T_i, *table.T_j})
        raise ValueError(
            f"lengths {lengths} need at least two lengths in one interval and lengths in two "
            "intervals to compare within- and across-interval similarity"
        )
    kinds = pairs.pivot_table(index="series", columns="pair", values=["centered", "raw"])
    return pd.DataFrame(
        {
            "within": kinds["centered", "within"],
            "across": kinds["centered", "across"],
            "baseline": pairs.groupby("series").baseline.mean(),
            "raw_within": kinds["raw", "within"],
            "raw_across": kinds["raw", "across"],
        }
    )


def centered_summary(scores: pd.DataFrame) -> dict:
    """Means of the centered scores and bootstrap intervals (over series) of within - across
    and within - baseline."""
    return {
        "within_mean": float(scores.within.mean()),
        "across_mean": float(scores.across.mean()),
        "baseline_mean": float(scores.baseline.mean()),
        "within_minus_across": mean_interval(scores.within - scores.across),
        "within_minus_baseline": mean_interval(scores.within - scores.baseline),
    }


def raw_summary(scores: pd.DataFrame) -> dict:
    """The uncentered within / across means: ~1 for any shared component, so no evidence."""
    return {
        "within_mean": float(scores.raw_within.mean()),
        "across_mean": float(scores.raw_across.mean()),
    }


def centered_status(centered: dict) -> str:
    """Supported only when within beats both across and chance (both intervals above zero): a
    gap to across alone could be a loss at the boundary with nothing kept inside an interval.
    Not supported when either interval lies below zero; otherwise no detectable difference."""
    intervals = [centered["within_minus_across"], centered["within_minus_baseline"]]
    if not all(np.isfinite(i["low"]) for i in intervals):
        return f"insufficient evidence ({intervals[0]['n']} series)"
    if any(i["high"] < 0 for i in intervals):
        return "not supported"
    if all(i["low"] > 0 for i in intervals):
        return "supported"
    return NO_DIFFERENCE


def health_summary(features_by_seed: dict[int, dict[int, np.ndarray]]) -> dict:
    """representation_health of H_L, worst case over seeds and lengths (a collapsed length
    makes its similarities meaningless, so the worst one speaks), each one under `by_length`."""
    rows = [
        {"seed": seed, "T": t, **representation_health(x)}
        for seed, features in features_by_seed.items()
        for t, x in sorted(features.items())
    ]
    frame = pd.DataFrame(rows)
    worst = {
        "dead_dimensions": int(frame.dead_dimensions.max()),
        "dimensions": int(frame.dimensions.max()),
        "effective_rank": float(frame.effective_rank.min()),
        "between_cosine": float(frame.between_cosine.max()),
        "collapsed": bool(frame.collapsed.any()),
        "over": "worst case over seeds and lengths",
        "by_length": rows,
    }
    return worst


def _boundary_row(pairs: pd.DataFrame, depth: pd.Series, boundary: int) -> dict | None:
    """(b-1, b) against the closest within-interval pair ending at b-1 (the same span where
    that length is present, else the widest the lengths offer), centered and per series; None
    when absent. `pairs` is indexed by (T_i, T_j, series), averaged over seeds."""
    lengths = sorted({*pairs.index.get_level_values("T_i"), *pairs.index.get_level_values("T_j")})
    below = boundary - 1
    if below not in lengths or boundary not in lengths:
        return None
    partners = [t for t in lengths if t < below and depth[t] == depth[below]]
    if not partners:
        return None
    partner = max(partners)
    across, within = pairs.loc[(below, boundary)], pairs.loc[(partner, below)]
    difference = mean_interval(within.centered - across.centered)
    return {
        "boundary": boundary,
        "across_pair": [below, boundary],
        "across": float(across.centered.mean()),
        "within_pair": [partner, below],
        "within": float(within.centered.mean()),
        "difference": difference,
        "raw_across": float(across.raw.mean()),
        "raw_within": float(within.raw.mean()),
    }


def _verdict_text(status: str, verdict: dict) -> str:
    """One paragraph, from the numbers."""
    centered, raw, health = verdict["centered"], verdict["raw"], verdict["health"]
    seeds = verdict["seeds"]
    parts = [
        f"{status}: over {verdict['n_series']} series and {len(seeds)} seed"
        f"{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))}), the centered cosine "
        f"of the same series at two lengths is {centered['within_mean']:.3f} inside one interval"
        f", {centered['across_mean']:.3f} across a boundary and {centered['baseline_mean']:.3f} "
        f"between different series (chance); within - across "
        f"{interval_text(centered['within_minus_across'])}, within - between-series "
        f"{interval_text(centered['within_minus_baseline'])}"
    ]
    parts += [
        f"boundary {r['boundary']}: {r['within_pair']} {r['within']:.3f} vs {r['across_pair']} "
        f"{r['across']:.3f} ({interval_text(r['difference'])})"
        for r in verdict["boundaries"]
    ]
    parts.append(
        f"raw (uncentered) cosine, no evidence by itself: within {raw['within_mean']:.3f}, across"
        f" {raw['across_mean']:.3f}"
    )
    if verdict.get("control"):
        control = verdict["control"]
        parts.append(
            f"untrained control (same architecture and seeds): within {control['within_mean']:.3f}"
            f", across {control['across_mean']:.3f}, between-series "
            f"{control['baseline_mean']:.3f}, within - across "
            f"{interval_text(control['within_minus_across'])}"
        )
    parts.append(
        f"H_L health ({health['over']}): effective rank {health['effective_rank']:.1f} of "
        f"{health['dimensions']}, between-series cosine {health['between_cosine']:.3f}, "
        f"{health['dead_dimensions']} dead dimensions"
        + (", collapsed: no verdict is drawn" if health["collapsed"] else "")
    )
    return "; ".join(parts) + "."


def boundary_verdict(
    table: pd.DataFrame,
    active_ctls: pd.Series,
    health: dict,
    control: pd.DataFrame | None = None,
    boundaries: list[int] | None = None,
) -> dict:
    """Is the same series closer to itself inside one interval than across a boundary and than
    to other series? JSON-ready.

    `table` is seed_similarity's (or series_similarity's) per-series table; `health` is
    health_summary's worst case; `control` the untrained encoder's table (reported only);
    `boundaries` default to every T whose T - 1 is measured at a smaller depth (1024, 2048).
    Per-series values are averaged over seeds, then bootstrapped over series: "supported" needs
    within - across and within - baseline both above zero; a collapsed H_L gets no verdict.
    """
    table = table if "seed" in table else table.assign(seed=0)
    scores = series_scores(table, active_ctls)
    centered = centered_summary(scores)
    status = "collapsed representation" if health["collapsed"] else centered_status(centered)
    lengths = sorted({*table.T_i, *table.T_j})
    if boundaries is None:
        boundaries = [
            t for t in lengths if t - 1 in lengths and active_ctls[t - 1] < active_ctls[t]
        ]
    pairs = table.groupby(["T_i", "T_j", "series"])[KINDS].mean()
    rows = [_boundary_row(pairs, active_ctls, b) for b in boundaries]
    per_seed = []
    for seed, rows_of_seed in table.groupby("seed", sort=True):
        seed_scores = series_scores(rows_of_seed, active_ctls)
        per_seed.append(
            {
                "seed": seed,
                "centered": centered_summary(seed_scores),
                "raw": raw_summary(seed_scores),
            }
        )
    verdict = {
        "status": status,
        "seeds": [s["seed"] for s in per_seed],
        "n_series": len(scores),
        "lengths": lengths,
        "centered": centered,
        "raw": raw_summary(scores),
        "control": None,
        "health": health,
        "boundaries": [row for row in rows if row is not None],
        "per_seed": per_seed,
    }
    if control is not None:
        control = control if "seed" in control else control.assign(seed=0)
        verdict["control"] = centered_summary(series_scores(control, active_ctls))
    verdict["verdict"] = _verdict_text(status, verdict)
    return _plain(verdict)


def _plain(value):
    """numpy scalars -> Python ones, recursively, so json.dumps takes the verdict."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class LengthsSettings(PlainDict):
    """Everything the boundary-lengths job runs with, resolved from the config once (`resolve`)
    and handed from the rule to the job whole, as one plain dict (`to_dict` / `from_dict`)."""

    dataset: str  # an ETT set; its test split's OT channel is cut at every length
    lengths: tuple[int, ...]  # ascending
    n_series: int  # test series cut at every length
    stride: int  # rows between consecutive series' end points
    seeds: tuple[int, ...]  # one encoder each
    architecture: dict  # CSFT's, the study's overrides applied
    pretraining: dict  # the recipe (csft.training.pretrain.PretrainConfig)
    device: str  # auto | cpu | cuda (csft.device)
    tracking: Tracking

    def __post_init__(self) -> None:
        check(isinstance(self.dataset, str), "LengthsSettings.dataset", self.dataset, "a string")
        check_ints("LengthsSettings.lengths", self.lengths)
        check(list(self.lengths) == sorted(set(self.lengths)), "LengthsSettings.lengths",
              self.lengths, "distinct lengths in ascending order")  # fmt: skip
        check_int("LengthsSettings.n_series", self.n_series)
        check_int("LengthsSettings.stride", self.stride)
        check_ints("LengthsSettings.seeds", self.seeds, low=0)
        check_choice("LengthsSettings.device", self.device, DEVICES)
        check_mapping("LengthsSettings.architecture", self.architecture)
        check_recipe("LengthsSettings.pretraining", self.pretraining, PretrainConfig)

    def params(self) -> dict:
        """What decides the study's result, as its MLflow params."""
        return {
            "dataset": self.dataset,
            "lengths": " ".join(map(str, self.lengths)),
            "n_series": self.n_series,
            "stride": self.stride,
            "seeds": " ".join(map(str, self.seeds)),
            "architecture": dict(self.architecture),
            "pretraining": dict(self.pretraining),
        }


def resolve(config: Mapping, wildcards: Mapping[str, str] | None = None) -> LengthsSettings:
    """The study's settings: `analysis.lengths` on the analysis dataset and seeds (the rule has
    no wildcards)."""
    analysis = config["analysis"]
    study = analysis["lengths"]
    return LengthsSettings(
        dataset=analysis["dataset"],
        lengths=tuple(sorted({int(t) for t in study["lengths"]})),
        n_series=study["n_series"],
        stride=study["stride"],
        seeds=tuple(analysis.get("seeds", config["seeds"])),
        architecture={**config["models"]["csft"]["architecture"], **study["architecture"]},
        pretraining=dict(study["pretraining"]),
        device=config["device"],
        tracking=tracking_for(config, "lengths", f"boundary_lengths/{analysis['dataset']}"),
    )


def split_stretch(series: ETTSeries, split: str, channels: slice | int) -> tuple[np.ndarray, str]:
    """Rows of `split` with longest - 1 rows of history before its border (none for train, which
    starts the file), and words naming it for errors."""
    segment = series.segments[split]  # val/test: the longest length's rows before the border
    history = 0 if split == "train" else series.lookback - 1
    start = segment.start + (0 if split == "train" else 1)
    rows = segment.stop - start - history
    where = f"{series.name} {split} split ({rows} rows, with {history} rows of history before it)"
    return series.values[start : segment.stop, channels], where


def cut_every_channel(series: ETTSeries, split: str, lengths, stride: int) -> dict:
    """Every channel of `split`, cut at every length, as many windows as fit, stacked."""
    values, where = split_stretch(series, split, slice(None))
    n = max(1, max_series(len(values), max(lengths), stride))
    per_channel = [
        cut_lengths(values[:, c], lengths, n, stride, f"{where}, channel {name}")
        for c, name in enumerate(ETT_COLUMNS[1:])
    ]
    return {t: np.concatenate([cuts[t] for cuts in per_channel]) for t in lengths}


def numbers(values, prefix: str = "") -> dict[str, float]:
    """The numbers of a nested verdict dict as flat MLflow metrics ("a_b_c": value)."""
    if isinstance(values, dict):
        return {
            k: v
            for key, part in values.items()
            for k, v in numbers(part, f"{prefix}{key}_").items()
        }
    if isinstance(values, bool | int | float) and np.isfinite(values):
        return {prefix.rstrip("_"): float(values)}
    return {}


def health_metrics(health: dict, prefix: str = "") -> dict[str, float]:
    """{prefix}health_{key}: the worst-case health numbers (not the per-length list)."""
    return numbers({k: v for k, v in health.items() if k != "by_length"}, f"{prefix}health_")


def pair_metrics(table: pd.DataFrame, prefix: str = "") -> dict[str, float]:
    """{prefix}similarity_{kind}_{T_i}_{T_j}: the mean over series of each kind and pair."""
    means = similarity_means(table)
    means = means[means.seed == "mean"]
    return {
        f"{prefix}similarity_{kind}_{a}_{b}": value
        for a, b, kind, value in means[["T_i", "T_j", "kind", "similarity"]].itertuples(index=False)
    }


def verdict_metrics(
    verdict: dict, table: pd.DataFrame, trained: dict, health: dict
) -> dict[str, float]:
    """Every number of the verdict as MLflow metrics: pooled, per boundary and per seed."""
    metrics = pair_metrics(table)
    metrics.update(numbers({k: verdict[k] for k in ("centered", "raw", "control")}))
    metrics.update(health_metrics(health))
    metrics["n_series"] = verdict["n_series"]
    for row in verdict["boundaries"]:
        values = {k: v for k, v in row.items() if k != "boundary"}
        metrics.update(numbers(values, f"boundary_{row['boundary']}_"))
    for row in verdict["per_seed"]:
        prefix = f"seed{row['seed']}_"
        metrics.update(numbers({k: row[k] for k in ("centered", "raw")}, prefix))
        seed_health = health_summary({row["seed"]: trained[row["seed"]]})
        metrics.update(health_metrics(seed_health, prefix))
        metrics.update(pair_metrics(table[table.seed == row["seed"]], prefix))
    return metrics


def represent_seeds(settings: LengthsSettings, train: dict, val: dict, cuts: dict):
    """Per seed: H_L of `cuts` by an encoder pretrained on `train` (early stopping on `val`),
    and by the same architecture untrained; returns (trained, untrained, encoder config).

    The untrained control: across a boundary H_L comes from a different CTL (other weights),
    so some gap is structural; only a trained gap beyond it is learned."""
    trained, untrained = {}, {}
    for seed in settings.seeds:
        encoder = pretrain_multi_length(
            train, val, dict(settings.architecture), dict(settings.pretraining), seed,
            on_epoch=lambda epoch, row, seed=seed: tracking.log_metrics(
                {f"seed{seed}_pretrain_{k}": v for k, v in row.items()}, step=epoch
            ),
            device=settings.device,
        )  # fmt: skip
        trained[seed] = represent_lengths(encoder, cuts)
        seed_everything(seed)
        untrained[seed] = represent_lengths(CSFTEncoder(encoder.config), cuts)
    return trained, untrained, encoder.config


def write_outputs(
    outputs: Mapping[str, str], settings: LengthsSettings, table: pd.DataFrame,
    config: CSFTConfig, record: dict,
) -> None:  # fmt: skip
    """The similarity means, the length table, the verdict and the figure (PNG and PDF)."""
    from csft.report import plots  # matplotlib only once there is a figure to draw
    from csft.report.boundary import similarity_figure

    lengths, seeds = list(settings.lengths), settings.seeds
    atomic.write_text(outputs["csv"], similarity_means(table).to_csv(index=False))
    atomic.write_text(outputs["ctls"], length_table(lengths, config).to_csv(index=False))
    atomic.write_text(outputs["verdict"], json.dumps(record, indent=2, sort_keys=True))
    title = (
        f"CSFT H_L similarity across lengths: {settings.dataset} test split, OT, "
        f"{settings.n_series} series, mean over {len(seeds)} seed{'s' if len(seeds) != 1 else ''}"
    )
    figure = similarity_figure(table, active_ctls(lengths, config), title)
    plots.save(figure, outputs["png"])
    plots.save(figure, outputs["pdf"])


def execute(settings: LengthsSettings, inputs: Mapping[str, str], outputs: Mapping[str, str]):
    """The whole study on one ETT set: per seed pretrain one encoder on every length (every
    channel of train as univariate series, early stopping on val), represent the OT channel of
    test cut at every length with shared end points (the same series for every seed), judge the
    boundaries (aggregated over seeds, bootstrapped over series); one MLflow run (per-seed
    metrics prefixed seed{seed}_), the tables, the verdict and the figure."""
    lengths = list(settings.lengths)
    series = ETTSeries.load(inputs["csv"], settings.dataset, max(lengths), features="M")
    data_tags = tracking.data_tags({f"ETT-small/{settings.dataset}.csv": inputs["csv"]})
    test_values, test_where = split_stretch(series, "test", ETT_COLUMNS[1:].index(TARGET))
    cuts = cut_lengths(test_values, lengths, settings.n_series, settings.stride, test_where)
    train, val = (cut_every_channel(series, s, lengths, settings.stride) for s in ("train", "val"))
    with settings.tracking.start(
        params=settings.params(),
        tags={**device_tags(settings.device), **data_tags},
    ) as run:
        trained, untrained, config = represent_seeds(settings, train, val, cuts)
        table, health = seed_similarity(trained), health_summary(trained)
        active, control = active_ctls(lengths, config), seed_similarity(untrained)
        verdict = boundary_verdict(table, active, health, control)
        log.info("%s", verdict["verdict"])
        tracking.log_metrics(verdict_metrics(verdict, table, trained, health))
        tracking.log_params({"d_L": common_width(config, lengths)})
        tracking.set_tags(
            {"verdict.status": verdict["status"], "verdict": verdict["verdict"][:5000]}
        )
        tracking.log_dict(verdict, "verdict.json")
        record = {**verdict, "dataset": settings.dataset, "mlflow_run_id": run.info.run_id}
        write_outputs(outputs, settings, table, config, record)
    from csft.report.boundary import similarity_matrix

    log.info("centered similarity:\n%s", similarity_matrix(table, "centered").round(4))
