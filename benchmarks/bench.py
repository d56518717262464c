"""Training cost: CSFT's growth with the look-back T, and PatchTST's speed against the official.

By default: how CSFT's training cost grows with T, with the paper's widths and with a width cap.
With `--model patchtst`: how fast our PatchTST trains, beside the official code if given.

    python benchmarks/bench.py [--lengths 512 1024 2048 4096] [--batch 8] [--repeats 3]
                         [--d-max 256] [--threads 0] [--out results/bench]
    python benchmarks/bench.py --model patchtst [--official PATH] [--batch 128] [--steps 10]
                         [--warmup 2] [--repeats 3] [--rounds 2] [--threads 0]

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

PatchTST (`--model patchtst`, written to patchtst_speed.md / .csv). Training throughput of
baselines/patchtst.py on the official ETTh1 setting (scripts/PatchTST/etth1.sh: look-back 336,
horizon 96, 7 channels, patch 16 / stride 8 with end padding, 3 layers, d_model 16, 4 heads,
d_ff 128, dropout 0.3), batch 128, Adam (lr 1e-4), MSE loss: a full step (zero_grad, forward,
backward, optimizer step) in train mode. Each run is a fresh Python process: `warmup` untimed
steps, then `repeats` timings of `steps` steps each; a run's samples/s is batch * steps / time,
median over its repeats; its memory is the process's peak RSS (and its growth over the imports)
and the MiB of activations the forward pass keeps for backward (saved-tensor hooks, as above).
With `--official PATH` (a folder exported from github.com/yuqinie98/PatchTST, i.e. its
PatchTST_supervised/) the official `models.PatchTST.Model` is measured the same way: same
threads, batch, seed-fixed input and target, optimizer and loss; PATH goes on sys.path only
inside that implementation's own subprocess, at run time (nothing official is imported
otherwise, and no official code is part of this suite). The two alternate, ABBA order over
`rounds` (ours, official, official, ours, ...), so both see the same background load; the
table gives each implementation's median over its runs, their spread, and ours / official.
The two models compute the same function (the parameter counts are equal) but are initialised
from different random streams; speed does not depend on the weights' values.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import torch

from csft.models.csft import CSFT, CSFTConfig

HORIZON = 96
PATCHTST_ETTH1 = {  # official scripts/PatchTST/etth1.sh
    "lookback": 336,
    "horizon": 96,
    "n_channels": 7,
    "n_layers": 3,
    "n_heads": 4,
    "d_model": 16,
    "d_ff": 128,
    "dropout": 0.3,
    "patch_len": 16,
    "stride": 8,
}
GOAL_RATIO = 10.0  # the goal: time(4096) / time(512) <= 10 with the width cap


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def counting_saved(model: torch.nn.Module) -> Iterator[dict[int, int]]:
    """Within the block, record storage -> bytes of every activation autograd keeps for
    backward (the model's own parameters excluded); sum the values for the total."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        yield saved


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

    with counting_saved(model) as saved:
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
    return run_isolated("measure", kwargs)


def run_isolated(function: str, kwargs: dict, module: str = "bench") -> dict:
    """<module>.<function>(**kwargs) (a module of benchmarks/) in a fresh Python process; its
    record, or RuntimeError."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"from {module} import {function}; "
        f"print(json.dumps({function}(**json.loads(sys.argv[1]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"measurement exited with status {done.returncode}: {tail[0]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def build_patchtst(official: str | None = None, **setting) -> torch.nn.Module:
    """Our PatchTST, or with `official` (an exported PatchTST_supervised/ folder) the official
    `Model`, for one setting (PATCHTST_ETTH1's keys). Call with `official` only in a process of
    its own (`run_isolated`): it puts that folder on sys.path."""
    if official is None:
        from csft.models.registry import model_class

        patchtst = model_class("patchtst")
        return patchtst(patchtst.Config(**setting))
    folder = Path(official).resolve()
    if not (folder / "models" / "PatchTST.py").is_file():
        raise FileNotFoundError(f"{folder} has no models/PatchTST.py (want PatchTST_supervised/)")
    sys.path.insert(0, str(folder))
    module = importlib.import_module("models.PatchTST")
    configs = argparse.Namespace(  # the fields the official Model reads (run_longExp.py names)
        enc_in=setting["n_channels"],
        seq_len=setting["lookback"],
        pred_len=setting["horizon"],
        e_layers=setting["n_layers"],
        n_heads=setting["n_heads"],
        d_model=setting["d_model"],
        d_ff=setting["d_ff"],
        dropout=setting["dropout"],
        fc_dropout=setting["dropout"],  # unused by the flatten head; the scripts set it so
        head_dropout=0.0,
        individual=0,
        patch_len=setting["patch_len"],
        stride=setting["stride"],
        padding_patch="end",
        revin=1,
        affine=0,
        subtract_last=0,
        decomposition=0,
        kernel_size=25,
    )
    return module.Model(configs)


def measure_patchtst(
    official: str | None = None,
    batch: int = 128,
    steps: int = 10,
    warmup: int = 2,
    repeats: int = 3,
    threads: int = 0,
    lr: float = 1e-4,
    seed: int = 0,
    setting: dict | None = None,
    fast_dropout: bool = True,
) -> dict:
    """Training throughput and memory of PatchTST (ours, or the official code at `official`).

    A step is zero_grad, forward, MSE loss, backward and an Adam step, in train mode, on one
    seed-fixed batch. Returns: implementation, parameter count, samples/s (batch * steps /
    time, median over `repeats` after `warmup` untimed steps), the process's peak RSS and its
    growth while the model was built and trained (MiB; this run's own in a fresh process), and
    the MiB of activations the forward pass keeps for backward.
    """
    setting = {**PATCHTST_ETTH1, **(setting or {})}
    if threads:
        torch.set_num_threads(threads)
    rss_before = peak_rss_mib()
    torch.manual_seed(seed)
    model = build_patchtst(official, **setting).train()
    if official is None and fast_dropout:  # our training default (csft.models.dropout)
        from csft.models.dropout import use_fast_dropout

        use_fast_dropout(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, setting["lookback"], setting["n_channels"], generator=generator)
    y = torch.randn(batch, setting["horizon"], setting["n_channels"], generator=generator)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()

    with counting_saved(model) as saved:
        step()  # first warm-up step, counting the activations kept for backward
    for _ in range(warmup - 1):
        step()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        seconds.append(time.perf_counter() - start)
    peak = peak_rss_mib()
    return {
        "implementation": "ours" if official is None else "official",
        "params": sum(p.numel() for p in model.parameters()),
        "batch": batch,
        "steps": steps,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "samples_per_s": batch * steps / statistics.median(seconds),
        "peak_rss_mib": peak,
        "rss_growth_mib": peak - rss_before,
        "saved_mib": sum(saved.values()) / 2**20,
        "load_1min": os.getloadavg()[0],
    }


def patchtst_order(rounds: int, official: bool) -> list[str]:
    """Run order: ours alone, or ours and official alternating ABBA (ours, off, off, ours, ...)."""
    if not official:
        return ["ours"] * rounds
    pairs = [("ours", "official") if r % 2 == 0 else ("official", "ours") for r in range(rounds)]
    return [name for pair in pairs for name in pair]


def patchtst_table(records: list[dict]) -> pd.DataFrame:
    """Per-run records -> one row per implementation (medians over runs) and ours / official."""
    runs = pd.DataFrame(records)
    table = runs.groupby("implementation", sort=False).agg(
        params=("params", "first"),
        batch=("batch", "first"),
        threads=("threads", "first"),
        runs=("samples_per_s", "size"),
        samples_per_s=("samples_per_s", "median"),
        samples_per_s_min=("samples_per_s", "min"),
        samples_per_s_max=("samples_per_s", "max"),
        peak_rss_mib=("peak_rss_mib", "median"),
        rss_growth_mib=("rss_growth_mib", "median"),
        saved_mib=("saved_mib", "median"),
        load_1min_max=("load_1min", "max"),
    )
    table = table.reindex([i for i in ("ours", "official") if i in table.index]).reset_index()
    if "official" in set(table.implementation):
        official = table.set_index("implementation").loc["official"]
        ours = table.set_index("implementation").loc["ours"]
        table = pd.concat(
            [
                table,
                pd.DataFrame(
                    [
                        {
                            "implementation": "ours / official",
                            "samples_per_s": ours.samples_per_s / official.samples_per_s,
                            "peak_rss_mib": ours.peak_rss_mib / official.peak_rss_mib,
                            "rss_growth_mib": ours.rss_growth_mib / official.rss_growth_mib,
                            "saved_mib": ours.saved_mib / official.saved_mib,
                        }
                    ]
                ),
            ],
            ignore_index=True,
        )
    return table


def patchtst_markdown(table: pd.DataFrame) -> str:
    """The table as markdown: counts as integers, blanks where a ratio has no meaning."""
    display = table.astype(object)
    for column in display.columns:
        whole = column in ("params", "batch", "threads", "runs")
        values = [None if pd.isna(v) else int(v) if whole else v for v in display[column]]
        display[column] = pd.Series(values, index=display.index, dtype=object)
    return display.to_markdown(index=False, floatfmt=".2f", missingval="")


def patchtst_main(args: argparse.Namespace) -> int:
    """`--model patchtst`: alternate isolated runs, print and write the table."""
    from csft.atomic import write_text

    if args.official is not None and not (args.official / "models" / "PatchTST.py").is_file():
        raise SystemExit(f"--official {args.official}: no models/PatchTST.py there")
    batch = args.batch or 128
    records = []
    for name in patchtst_order(args.rounds, args.official is not None):
        official = str(args.official.resolve()) if name == "official" else None
        print(f"measuring {name} PatchTST (batch {batch})", flush=True)
        record = run_isolated(
            "measure_patchtst",
            {
                "official": official,
                "batch": batch,
                "steps": args.steps,
                "warmup": args.warmup,
                "repeats": args.repeats,
                "threads": args.threads,
                "fast_dropout": not args.torch_dropout,
            },
        )
        records.append(record)
        print(f"  {record}", flush=True)
    table = patchtst_table(records)
    dropout = "torch's dropout" if args.torch_dropout else "the fast CPU dropout (training default)"
    setting = ", ".join(f"{k} {v}" for k, v in PATCHTST_ETTH1.items())
    header = (
        f"Training throughput on the official ETTh1 setting ({setting}); batch "
        f"{batch}, Adam lr 1e-4, MSE; {args.steps} steps x {args.repeats} repeats "
        f"after {args.warmup} warm-up steps per run, each run a fresh process, "
        f"{len(records)} runs in ABBA order; {os.cpu_count()} CPU cores, torch threads "
        f"{records[0]['threads']}; ours with {dropout}."
    )
    markdown = patchtst_markdown(table)
    runs = pd.DataFrame(records).to_markdown(index=False, floatfmt=".2f")
    print(f"\n{header}\n\n{markdown}")
    write_text(
        args.out / "patchtst_speed.md",
        f"# PatchTST training speed\n\n{header}\n\n{markdown}\n\n## Runs\n\n{runs}\n",
    )
    write_text(args.out / "patchtst_speed.csv", table.to_csv(index=False))
    print(f"\nwrote {args.out / 'patchtst_speed.md'} and {args.out / 'patchtst_speed.csv'}")
    return 0


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
    parser.add_argument("--model", choices=["csft", "patchtst"], default="csft")
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    parser.add_argument("--batch", type=int, default=None, help="csft: 8, patchtst: 128")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--d-max", type=int, default=256, help="width cap of the capped variant")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all)")
    parser.add_argument("--max-params", type=float, default=5e8)
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    patchtst = parser.add_argument_group("--model patchtst")
    patchtst.add_argument("--official", type=Path, default=None, help="PatchTST_supervised/")
    patchtst.add_argument(
        "--torch-dropout", action="store_true", help="ours with torch's dropout, not the fast one"
    )
    patchtst.add_argument("--steps", type=int, default=10, help="training steps per timing")
    patchtst.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    patchtst.add_argument("--rounds", type=int, default=2, help="runs of each implementation")
    args = parser.parse_args(argv)
    if args.model == "patchtst":
        return patchtst_main(args)
    if args.official is not None:
        parser.error("--official goes with --model patchtst")
    if args.batch is None:
        args.batch = 8

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
