"""The variable-length (uf) track's tables: every placement against look-back, the main track's
fixed look-back beside them, and the best placement judged against the crop control.

The crop control keeps the last 2^k points only, so a placement that does worse than crop is
losing information the look-back holds. "Best" is chosen on validation MSE (the mean over the
evaluated look-backs each job was selected on), never on the test split; the test comparison
with crop is then paired over datasets x horizons x seeds at each look-back (csft.report.verdicts).
"""

from __future__ import annotations

import pandas as pd

from csft.report import verdicts

CONTROL = "crop"
MISSING = "–"  # a cell the run did not cover
PAIRING = ["dataset", "horizon", "seed"]


def uf_rows(jobs: pd.DataFrame) -> pd.DataFrame:
    """The uf track's per-job, per-look-back rows (records without a placement predate the
    axis: they were `resample`)."""
    if "track" not in jobs:
        return jobs.iloc[0:0]
    uf = jobs[jobs.track == "uf"].copy()
    if "placement" not in uf:
        uf["placement"] = "resample"
    uf["placement"] = uf.placement.fillna("resample").replace("", "resample")
    return uf


def _per_job(uf: pd.DataFrame) -> pd.DataFrame:
    """One row per job (its records repeat per tested look-back; best_val_loss and
    still_improving are the job's)."""
    return uf.drop_duplicates(["model", "placement", *PAIRING])


def best_placement(jobs: pd.DataFrame) -> str | None:
    """The non-control placement with the lowest mean validation MSE over its jobs (each job's
    best_val_loss, once per job); None without one."""
    uf = uf_rows(jobs)
    uf = uf[uf.placement != CONTROL]
    if uf.empty:
        return None
    return str(_per_job(uf).groupby("placement").best_val_loss.mean().idxmin())


def versus_control(jobs: pd.DataFrame, placement: str, metric: str = "test_mse") -> pd.DataFrame:
    """`placement` minus crop in `metric` at each look-back, paired over datasets x horizons x
    seeds: the interval, Wilcoxon p, relative change and a verdict in words ("insufficient
    evidence" when a cell has fewer than MIN_SEEDS seeds, however many cells there are). Where
    the jobs say whether they were still improving (tables.read_forecast_jobs) and most of the
    compared jobs were, the verdict says so: it is a verdict at that budget, which longer
    training may change (csft.report.verdicts.still_improving)."""
    uf = uf_rows(jobs)
    keys = ["model", *PAIRING, "lookback"]
    a = uf[uf.placement == placement][[*keys, metric]]
    b = uf[uf.placement == CONTROL][[*keys, metric]]
    both = a.merge(b, on=keys, suffixes=("_a", "_b"))
    budget = _budget_note(uf, both, placement)
    rows = []
    for lookback, pairs in both.groupby("lookback", sort=True):
        pairs = pairs.sort_values(keys)
        result = verdicts.compare(
            pairs[f"{metric}_a"], pairs[f"{metric}_b"], below="better", above="worse"
        )
        seeds = int(pairs.groupby(["model", "dataset", "horizon"]).seed.nunique().min())
        if seeds < verdicts.MIN_SEEDS:  # many cells of one seed are not a replicated result
            result["verdict"] = (
                f"insufficient evidence ({seeds} seed{'s' if seeds != 1 else ''}; "
                f"a verdict needs {verdicts.MIN_SEEDS})"
            )
        elif budget:
            result["verdict"] += f" (at this budget: {budget})"
        rows.append({"lookback": int(lookback), "placement": placement, **result})
    return pd.DataFrame(rows)


def _budget_note(uf: pd.DataFrame, pairs: pd.DataFrame, placement: str) -> str | None:
    """verdicts.still_improving over the jobs (of both placements) behind the paired rows;
    None when most were not, or when the records do not say."""
    if "still_improving" not in uf:
        return None
    job = ["model", *PAIRING]
    paired = pairs[job].drop_duplicates()
    compared = _per_job(uf[uf.placement.isin([placement, CONTROL])]).merge(paired, on=job)
    return verdicts.still_improving(int(compared.still_improving.sum()), len(compared))


def _cell(mean: float, sd: float) -> str:
    return f"{mean:.3f}" if pd.isna(sd) else f"{mean:.3f} ± {sd:.3f}"


def _reference(summary: pd.DataFrame, uf: pd.DataFrame) -> pd.DataFrame:
    """The main track's CSFT at each uf interval's lowest look-back (2^k), per dataset x
    horizon: the fixed-look-back reference line."""
    main = summary[(summary.track == "main") & (summary.model.isin(uf.model.unique()))]
    low = uf.groupby(["model", "dataset", "horizon"]).lookback.min().rename("low").reset_index()
    return main.merge(low, on=["model", "dataset", "horizon"]).query("lookback == low")


def grid_markdown(uf: pd.DataFrame) -> str:
    """The paper's view of the track: one MSE-uf / MAE-uf per set x horizon (the mean over the
    evaluated look-backs and seeds), a table per placement, so the headline range can be read
    off cell by cell; only when the track covers more than one horizon."""
    if uf.horizon.nunique() < 2:
        return ""
    text = (
        "\n### MSE-uf / MAE-uf per set x horizon\n\n"
        "Each cell: test MSE / MAE, the mean over the evaluated look-backs and seeds (the "
        "uf track's one model per cell).\n"
    )
    for (model, placement), rows in uf.groupby(["model", "placement"]):
        cells = rows.groupby(["dataset", "horizon"])[["test_mse_mean", "test_mae_mean"]].mean()
        cells["cell"] = [f"{mse:.3f} / {mae:.3f}" for mse, mae in cells.to_numpy()]
        grid = cells.cell.unstack("horizon")
        grid.columns = [f"H={h}" for h in grid.columns]
        text += (
            f"\n{model}, placement `{placement}`:\n\n"
            + grid.fillna(MISSING).reset_index().to_markdown(index=False, disable_numparse=True)
            + "\n"
        )
    return text


def uf_markdown(jobs: pd.DataFrame, summary: pd.DataFrame) -> str:
    """The uf section of forecast.md: MSE and MAE per placement and look-back, the main track's
    fixed look-back beside them, and the best placement against crop with its verdict."""
    uf = summary[summary.track == "uf"].copy()  # summarize_forecast named every placement
    if uf.empty:
        return ""
    reference = _reference(summary, uf)
    text = (
        "\n## Variable-length (uf) track: one model per look-back interval\n\n"
        "Trained with a look-back drawn per batch from the interval (its encoder pretrained the "
        "same way), selected on the mean validation MSE over the look-backs below, tested at "
        "each look-back on the same forecast targets. Placements (csft.models.placement): "
        "`resample` (the paper's rule), `length_aware` (resample + log2(T/2^k) embedded), "
        "`pad_mask` (padded at the end, padding masked), `crop` (the last 2^k points: the "
        "control). "
        "`main track (fixed L)`: the main track's CSFT at the interval's lowest look-back, for "
        "reference.\n"
    )
    for metric in ("mse", "mae"):
        uf[metric] = [
            _cell(m, s) for m, s in zip(uf[f"test_{metric}_mean"], uf[f"test_{metric}_std"],
                                        strict=True)
        ]  # fmt: skip
        pivot = uf.pivot_table(
            index=["model", "dataset", "horizon", "placement"],
            columns="lookback",
            values=metric,
            aggfunc="first",
        )
        pivot.columns = [f"L={c}" for c in pivot.columns]
        pivot = pivot.reset_index()
        if len(reference):
            fixed = {
                (r.model, r.dataset, r.horizon): (r.lookback, _cell(
                    getattr(r, f"test_{metric}_mean"), getattr(r, f"test_{metric}_std")))
                for r in reference.itertuples()
            }  # fmt: skip
            pivot["main track (fixed L)"] = [
                "L={}: {}".format(*fixed[k]) if k in fixed else ""
                for k in zip(pivot.model, pivot.dataset, pivot.horizon, strict=True)
            ]
        seeds = uf.groupby(["model", "dataset", "horizon", "placement"]).n_seeds.min()
        pivot.insert(4, "seeds", [seeds[tuple(k)] for k in pivot.iloc[:, :4].to_numpy()])
        text += (
            f"\n### {metric.upper()} (mean ± sd over seeds)\n\n"
            + pivot.to_markdown(index=False, disable_numparse=True)
            + "\n"
        )
    text += grid_markdown(uf)
    best = best_placement(jobs)
    if best is None or CONTROL not in set(uf.placement):
        return text + "\nNo comparison with the crop control: it needs crop and one more.\n"
    comparison = versus_control(jobs, best)
    table = pd.DataFrame(
        {
            "look-back": comparison.lookback,
            f"MSE {best} - crop": [
                verdicts.interval_text(r) for r in comparison.to_dict("records")
            ],
            "relative": comparison.relative.map(lambda v: f"{100 * v:+.1f}%"),
            "Wilcoxon p": comparison.p.map(lambda v: f"{v:.3g}"),
            f"{best} vs crop": comparison.verdict,
        }
    )
    return text + (
        f"\n### Best placement against the crop control\n\n"
        f"Best non-crop placement by validation MSE: **{best}**. Test MSE difference, paired "
        "over datasets x horizons x seeds at each look-back (95% bootstrap interval; a "
        "direction needs the interval to exclude 0 and Wilcoxon p < 0.05):\n\n"
        + table.to_markdown(index=False, disable_numparse=True)
        + "\n"
        + budget_line(uf_rows(jobs))
    )


def budget_line(uf: pd.DataFrame) -> str:
    """How many fine-tuning jobs per placement were still improving at their last epoch (best
    validation loss there): whether the comparison is at a budget where training had flattened.
    Empty for records that do not say."""
    if "still_improving" not in uf:
        return ""
    counts = _per_job(uf).groupby("placement").still_improving.agg(["sum", "count"])
    shown = ", ".join(f"{p} {int(r['sum'])} of {int(r['count'])}" for p, r in counts.iterrows())
    return f"\nJobs still improving at their last epoch (best validation loss there): {shown}.\n"
