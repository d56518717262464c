"""The benchmarks' measuring functions (CSFT scaling, PatchTST speed), on small settings."""

import torch
from bench import (
    goal_line,
    measure,
    measure_isolated,
    measure_patchtst,
    n_parameters,
    patchtst_markdown,
    patchtst_order,
    patchtst_table,
    scaling_table,
)

from baselines.patchtst import PatchTST, PatchTSTConfig
from csft.models.csft import CSFT, CSFTConfig


def test_measure_returns_a_complete_record():
    config = CSFTConfig(lookback=128, horizon=96, n_channels=1)
    expected_params = sum(p.numel() for p in CSFT(config).parameters())
    assert n_parameters(config) == expected_params

    record = measure(lookback=128, batch=2, repeats=1, threads=1)
    assert record["params"] == expected_params
    assert record["T"] == 128 and record["L"] == 3 and record["d_L"] == 16 * 2**3
    assert record["batch"] == 2 and record["repeats"] == 1
    assert record["ms_per_sample"] > 0
    assert record["peak_rss_mib"] > 0 and record["rss_growth_mib"] >= 0
    assert record["saved_mib"] > 0
    assert torch.get_num_threads() == 1
    torch.set_num_threads(2)

    # In a fresh process the peak RSS is this configuration's own.
    isolated = measure_isolated(lookback=128, d_max=32, batch=2, repeats=1, threads=1)
    capped = CSFTConfig(lookback=128, horizon=96, n_channels=1, d_max=32)
    assert isolated["params"] == sum(p.numel() for p in CSFT(capped).parameters())
    assert isolated["d_L"] == 32
    assert isolated["ms_per_sample"] > 0 and isolated["peak_rss_mib"] > 0
    assert 0 < isolated["saved_mib"] < record["saved_mib"]  # narrower widths keep less

    table = scaling_table([record, isolated])
    assert list(table.variant) == ["cap 32", "paper"]
    assert (table.time_ratio == 1.0).all()
    assert "not measured" in goal_line(table, 32)


def test_measure_patchtst_trains_ours_and_counts_its_parameters():
    tiny = {"lookback": 64, "horizon": 24, "n_channels": 2, "n_heads": 2, "d_model": 8}
    tiny |= {"d_ff": 16, "n_layers": 2}
    threads = torch.get_num_threads()
    try:
        record = measure_patchtst(batch=4, steps=1, warmup=1, repeats=1, threads=1, setting=tiny)
    finally:
        torch.set_num_threads(threads)
    config = PatchTSTConfig(**{**tiny, "dropout": 0.3, "patch_len": 16, "stride": 8})
    assert record["params"] == sum(p.numel() for p in PatchTST(config).parameters())
    assert record["implementation"] == "ours" and record["threads"] == 1
    assert record["samples_per_s"] > 0 and record["saved_mib"] > 0

    assert patchtst_order(2, official=True) == ["ours", "official", "official", "ours"]
    assert patchtst_order(2, official=False) == ["ours", "ours"]
    twin = record | {"implementation": "official", "samples_per_s": record["samples_per_s"] / 2}
    table = patchtst_table([record, twin]).set_index("implementation")
    assert table.loc["ours / official", "samples_per_s"] == 2.0
    assert table.loc["official", "params"] == record["params"]
    assert "| ours / official" in patchtst_markdown(table.reset_index())


def test_efficiency_counts_the_known_flops_of_a_dlinear_step():
    """DLinear is two Linear(L -> H) over B x C series: forward 2 x 2BCLH, backward the two
    weight gradients (the input needs none), 8BCLH in all; the share of the matmul peak is
    measured in the same process."""
    from efficiency import measure_setup, study_setups

    index = [s["model"] for s in study_setups()].index("dlinear")
    record = measure_setup(index, "cpu", steps=1, warmup=0, threads=1)
    batch, lookback = study_setups()[index]["batch"], study_setups()[index]["lookback"]
    assert record["gflop_per_step"] * 1e9 == 8 * batch * 7 * lookback * 96
    assert record["samples_per_s"] > 0 and record["matmul_peak_gflop_per_s"] > 0
    assert 0 < record["peak_share"] == record["gflop_per_s"] / record["matmul_peak_gflop_per_s"]
    assert record["peak_memory_mib"] > 0
