"""How CSFT's training cost grows with the look-back T, with the paper's widths and with a cap.

    python -m csft.bench [--lengths 512 1024 2048 4096] [--batch 8] [--repeats 3]
                         [--d-max 256] [--threads 0] [--out results/bench]

Why the cost grows. T in [2^k, 2^(k+1)) is placed on a grid of 2^k points, so P_0 = 2^k / 16
patches and L = k - 4 Conv-like Transformer Layers. Scale l has P_l = P_0 / 2^l tokens of width
d_l = d_0 2^l, and its dense layers cost about P_l d_l^2 = P_0 d_0 d_l multiply-adds per sample:
with doubling widths every new scale costs twice the one before, so the total is about
2 P_0 d_0 d_L, i.e. 4x per doubling of T (P_0 and d_L both double), 64x from T = 512 to 4096, and
the parameter count grows like d_L^2 (16x per doubling; ~270M parameters at T = 4096). With a
cap d_max the scales past the cap cost P_l d_max^2, a geometric series that halves per scale, so
the total grows about linearly in T (plus the P_0^2 self-attention of H_0).

Each configuration runs in a fresh Python process, so the peak resident set size
(`ru_maxrss`) belongs to that configuration alone. Time is forward + backward of one training
step (loss: mean squared forecast), median over `repeats` after one warm-up, per sample.
The uncapped T = 4096 model (272M parameters, ~2.5 GiB peak RSS at batch 8) is measured like
the others: about 0.7 s per sample on 2 CPU cores, ~30 s in all. Configurations whose parameters
would pass `--max-params` (default 5e8, e.g. uncapped T >= 8192 with a raised max_length) drop
to batch 1 and 1 repeat, said so in the `note` column: their time per sample is then an upper
bound (no batching of the weight reads).

On a shared machine the times are only as good as the machine is idle: `load_1min` records the
load average when each configuration finished. With more runnable processes than cores, torch's
intra-op threads (default: all cores) wait on each other and small models slow down by 10-100x
at random; `--threads 1` gives stable numbers there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from csft.model import CSFT, CSFTConfig

HORIZON = 96
GOAL_RATIO = 10.0  # the goal: time(4096) / time(512) <= 10 with the width cap


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def n_parameters(config: CSFTConfig) -> int:
    """Parameters of CSFT(config), counted on the meta device (nothing is allocated)."""
    with torch.device("meta"):
        return sum(p.numel() for p in CSFT(config).parameters())


def measure(
    lookback: int,
    d_max: int = 0,
    batch: int = 8,
    repeats: int = 3,
    threads: int = 0,
    horizon: int = HORIZON,
    seed: int = 0,
) -> dict:
    """Time and memory of one CSFT training step (forward + backward) at look-back `lookback`.

    Returns a record: L, d_L, parameter count, seconds per sample (median over `repeats` after
    a warm-up), the process's peak RSS and its growth while the model was built and run (MiB;
    the growth is this configuration's own only in a fresh process, and can be 0 for a model
    small enough to fit in memory the imports already touched), and the MiB of activations the
    forward pass keeps for backward (exact, counted with saved-tensor hooks, any process).
    """
    if threads:
        torch.set_num_threads(threads)
    rss_before = peak_rss_mib()
    config = CSFTConfig(lookback=lookback, horizon=horizon, n_channels=1, d_max=d_max)
    torch.manual_seed(seed)
    model = CSFT(config).train()
    x = torch.randn(batch, lookback, 1, generator=torch.Generator().manual_seed(seed))

    def step() -> float:
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        model(x).pow(2).mean().backward()
        return time.perf_counter() - start

    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}  # storage -> bytes of the activations kept for backward

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        step()  # warm-up (first-call allocations, kernel selection), counting saved activations
    seconds = statistics.median(step() for _ in range(repeats))
    peak = peak_rss_mib()
    return {
        "T": lookback,
        "d_max": d_max,
        "L": config.plan.n_ctl,
        "d_L": config.widths()[-1],
        "params": sum(p.numel() for p in model.parameters()),
        "batch": batch,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "ms_per_sample": 1000 * seconds / batch,
        "peak_rss_mib": peak,
        "rss_growth_mib": peak - rss_before,
        "saved_mib": sum(saved.values()) / 2**20,
        "load_1min": os.getloadavg()[0],  # other work on the machine skews the times
    }


def measure_isolated(**kwargs) -> dict:
    """`measure` in a fresh Python process, so ru_maxrss is this configuration's own.

    A plain subprocess (not multiprocessing) so it works from any caller, pytest and stdin
    included; a child killed for memory becomes a RuntimeError naming its exit status.
    """
    code = (
        "import json, sys; from csft.bench import measure; "
        "print(json.dumps(measure(**json.loads(sys.argv[1]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"measurement exited with status {done.returncode}: {tail[0]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def plan_runs(
    lengths: list[int], d_max: int, batch: int, repeats: int, max_params: float
) -> list[dict]:
    """One run per (T, variant); oversized models drop to batch 1, 1 repeat, with a note."""
    runs = []
    for lookback in lengths:
        for cap in (0, d_max):
            config = CSFTConfig(lookback=lookback, horizon=HORIZON, n_channels=1, d_max=cap)
            n = n_parameters(config)
            run = {"lookback": lookback, "d_max": cap, "batch": batch, "repeats": repeats}
            note = ""
            if n > max_params:
                run.update(batch=1, repeats=1)
                note = f"{n / 1e6:.0f}M params > {max_params:.0e}: batch 1, 1 repeat"
            runs.append({"run": run, "note": note})
    return runs


def scaling_table(records: list[dict]) -> pd.DataFrame:
    """Records -> one row per (T, variant), with each variant's time ratio to its smallest T."""
    table = pd.DataFrame(records)
    table.insert(1, "variant", ["paper" if cap == 0 else f"cap {cap}" for cap in table.d_max])
    table = table.drop(columns="d_max").sort_values(["variant", "T"], ignore_index=True)
    base = table.groupby("variant")["ms_per_sample"].transform("first")  # smallest T measured
    table.insert(
        table.columns.get_loc("ms_per_sample") + 1, "time_ratio", table.ms_per_sample / base
    )
    return table


def goal_line(table: pd.DataFrame, d_max: int) -> str:
    """The issue's goal, stated honestly whichever way it came out."""
    capped = table[table.variant == f"cap {d_max}"].set_index("T")
    if (
        not {512, 4096} <= set(capped.index)
        or capped.loc[[512, 4096], "ms_per_sample"].isna().any()
    ):
        return f"Goal time(4096)/time(512) <= {GOAL_RATIO:g} with d_max={d_max}: not measured"
    ratio = capped.loc[4096, "ms_per_sample"] / capped.loc[512, "ms_per_sample"]
    verdict = "MET" if ratio <= GOAL_RATIO else "NOT MET"
    line = (
        f"Goal time(4096)/time(512) <= {GOAL_RATIO:g} with d_max={d_max}: {verdict} "
        f"(ratio {ratio:.1f})"
    )
    cores, load, threads = os.cpu_count() or 1, table.load_1min.max(), table.threads.max()
    if threads > 1 and load > cores:
        line += (
            f"; UNRELIABLE: load average {load:.1f} on {cores} cores with {threads:.0f} torch "
            "threads (threads wait on each other); rerun on an idle machine or with --threads 1"
        )
    return line


def main(argv: list[str] | None = None) -> int:
    from csft.atomic import write_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--d-max", type=int, default=256, help="width cap of the capped variant")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all)")
    parser.add_argument("--max-params", type=float, default=5e8)
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    args = parser.parse_args(argv)

    records = []
    for item in plan_runs(args.lengths, args.d_max, args.batch, args.repeats, args.max_params):
        run, note = item["run"], item["note"]
        label = f"T={run['lookback']} d_max={run['d_max']}"
        print(f"measuring {label} (batch {run['batch']}, {run['repeats']} repeats)", flush=True)
        start = time.perf_counter()
        try:
            record = measure_isolated(**run, threads=args.threads)
        except RuntimeError as error:  # e.g. killed for memory
            record = {"T": run["lookback"], "d_max": run["d_max"], "batch": run["batch"]}
            note = f"failed: {type(error).__name__}: {error}".strip()
        record["note"] = note
        records.append(record)
        print(f"  done in {time.perf_counter() - start:.1f} s: {record}", flush=True)

    table = scaling_table(records)
    header = goal_line(table, args.d_max)
    markdown = table.to_markdown(index=False, floatfmt=".2f")
    print(f"\n{header}\n\n{markdown}")
    write_text(args.out / "csft_scaling.md", f"# CSFT scaling\n\n{header}\n\n{markdown}\n")
    write_text(args.out / "csft_scaling.csv", table.to_csv(index=False))
    print(f"\nwrote {args.out / 'csft_scaling.md'} and {args.out / 'csft_scaling.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
