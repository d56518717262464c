"""Training efficiency: how close one training step of each model comes to the machine's limit.

    python benchmarks/efficiency.py [--threads 1] [--steps 5] [--warmup 2] [--device cpu]
                                    [--out results/bench]

Per model and config: samples/s of a full training step (zero_grad, forward, MSE, backward,
AdamW step) in train mode, GFLOP per step counted by torch.utils.flop_counter (forward and
backward matrix products, attention included; element-wise work is not counted), the achieved
GFLOP/s, its share of the fp32 matrix-product peak measured in the same process (the best of
square matmuls; on CUDA the TF32 setting is printed), and the peak memory (the process's peak
RSS on CPU, torch's peak allocation on CUDA). The configs are the study's own (config/
config.yaml, resolved for ETTh1 at H = 96): CSFT's ETT recipe (look-back 512, batch 64 x 7
channels), CSFT with d_max 256, PatchTST's official ETTh1 setting (look-back 336, batch 128)
and DLinear (look-back 336, batch 32). Models train with the fast CPU dropout, their training
default (csft.models.dropout); CSFT's ETT recipe and PatchTST are measured with torch's dropout
too, so the gain is read in one run. Written to efficiency.md / .csv under --out.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from csft import atomic
from csft.config import resolve_architecture, resolve_training
from csft.models.dropout import use_fast_dropout
from csft.models.registry import build_model

ROOT = Path(__file__).resolve().parents[1]
HORIZON, CHANNELS = 96, 7


def study_setups() -> list[dict]:
    """(name, model, architecture, look-back, batch) from config/config.yaml, ETTh1, H 96."""
    models = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["models"]

    def setup(name, model, lookback, fast_dropout=True, **extra):
        settings = models[model]
        architecture = {**resolve_architecture(settings, "ETTh1", HORIZON), **extra}
        batch = resolve_training(settings, "ETTh1", HORIZON).get("batch_size", 32)
        return {"name": name, "model": model, "architecture": architecture,
                "lookback": lookback, "batch": batch, "fast_dropout": fast_dropout}  # fmt: skip

    return [
        setup("CSFT, ETT recipe", "csft", 512),
        setup("CSFT, ETT recipe, torch dropout", "csft", 512, fast_dropout=False),
        setup("CSFT, d_max 256", "csft", 512, d_max=256),
        setup("PatchTST, official ETTh1", "patchtst", 336),
        setup("PatchTST, official ETTh1, torch dropout", "patchtst", 336, fast_dropout=False),
        setup("DLinear", "dlinear", 336),
    ]


def matmul_peak(device: torch.device, size: int = 2048, repeats: int = 5) -> float:
    """The best fp32 GFLOP/s of a size x size matrix product on `device`."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        synchronize(device)
        started = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(setup: dict, device: torch.device, steps: int, warmup: int) -> dict:
    """One model's training step: samples/s, GFLOP per step, achieved GFLOP/s."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = build_model(
        setup["model"], setup["architecture"],
        lookback=setup["lookback"], horizon=HORIZON, n_channels=CHANNELS,
    ).to(device).train()  # fmt: skip
    if setup["fast_dropout"]:  # the training default (csft.models.dropout)
        use_fast_dropout(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(setup["batch"], setup["lookback"], CHANNELS, device=device)
    y = torch.randn(setup["batch"], HORIZON, CHANNELS, device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()

    counter = FlopCounterMode(display=False)
    with counter:
        step()
    for _ in range(warmup):
        step()
    synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    seconds = (time.perf_counter() - started) / steps
    gflop = counter.get_total_flops() / 1e9
    return {
        "model": setup["name"],
        "batch": setup["batch"],
        "samples_per_s": setup["batch"] / seconds,
        "seconds_per_step": seconds,
        "gflop_per_step": gflop,
        "gflop_per_s": gflop / seconds,
    }


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure_setup(index: int, device: str, steps: int, warmup: int, threads: int) -> dict:
    """Setup `index` of study_setups() with the matmul peak measured in the same process (run
    it in a fresh one, bench.run_isolated, so the peak memory is this model's own)."""
    torch.set_num_threads(threads)
    where = torch.device(device)
    peak = matmul_peak(where)
    row = measure(study_setups()[index], where, steps, warmup)
    return {**row, "matmul_peak_gflop_per_s": peak, "peak_share": row["gflop_per_s"] / peak,
            "peak_memory_mib": peak_memory_mib(where)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from bench import run_isolated

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (jobs use 1)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("results/bench"))
    args = parser.parse_args(argv)
    settings = {"device": args.device, "steps": args.steps, "warmup": args.warmup,
                "threads": args.threads}  # fmt: skip
    rows = [
        run_isolated("measure_setup", {"index": i, **settings}, module="efficiency")
        for i in range(len(study_setups()))
    ]
    table = pd.DataFrame(rows)
    tf32 = torch.backends.cuda.matmul.allow_tf32
    precision = "fp32" if args.device == "cpu" else f"fp32, TF32 matmul {'on' if tf32 else 'off'}"
    header = (
        f"# Training efficiency ({args.device}, {args.threads} thread(s), {precision}; the "
        "matmul peak measured in each model's process)\n\n"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(args.out / "efficiency.csv", table.to_csv(index=False, float_format="%.4g"))
    markdown = header + table.to_markdown(index=False, floatfmt=".3g") + "\n"
    atomic.write_text(args.out / "efficiency.md", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
