"""The CSFT scaling benchmark's measuring function, on one small configuration."""

import torch

from csft.bench import goal_line, measure, measure_isolated, n_parameters, scaling_table
from csft.model import CSFT, CSFTConfig


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
