"""CSFT: the log2 length rule, grid placement, re-patching, scales, fusion variants, errors."""

import math

import pytest
import torch

from csft.models.csft import (
    CSFT,
    ConvLikeTransformerLayer,
    CSFTConfig,
    CSFTEncoder,
    ResidualFusion,
    length_plan,
    place_on_grid,
    repatch,
)

SMALL = {"d_model": 8, "n_heads": 2}  # narrow widths keep every build and forward fast


def small(lookback: int, **overrides) -> CSFTConfig:
    return CSFTConfig(lookback=lookback, horizon=24, n_channels=1, **{**SMALL, **overrides})


def encoder(lookback: int, seed: int = 0, **overrides) -> CSFTEncoder:
    torch.manual_seed(seed)
    return CSFTEncoder(small(lookback, **overrides)).eval()


def series(n: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, length, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- length rule


@pytest.mark.parametrize(
    ("length", "n_ctl", "grid"),
    [
        (64, 2, 64),
        (127, 2, 64),
        (512, 5, 512),
        (1023, 5, 512),
        (1024, 6, 1024),
        (2047, 6, 1024),
        (2048, 7, 2048),
        (8191, 8, 4096),
    ],
)
def test_length_plan(length, n_ctl, grid):
    plan = length_plan(length)
    assert plan.length == length
    assert plan.n_ctl == n_ctl
    assert plan.grid_length == grid
    assert plan.interval == (grid, 2 * grid)
    assert plan.interval[0] <= length < plan.interval[1]
    assert n_ctl == math.floor(math.log2(length / 16))  # the rule as paper.md states it


@pytest.mark.parametrize("length", [63, 8192, 0, 100_000])
def test_length_outside_the_supported_range_raises(length):
    with pytest.raises(ValueError) as info:
        length_plan(length)
    message = str(info.value)
    assert f"T={length}" in message
    assert "[64, 8192)" in message


def test_length_plan_custom_range():
    assert length_plan(8192, max_length=16384).n_ctl == 9
    assert length_plan(32, min_length=32).n_ctl == 1
    with pytest.raises(ValueError, match=r"T=100.*\[128, 16384\)"):
        length_plan(100, min_length=128, max_length=16384)
    with pytest.raises(ValueError, match=r"T=1024.*\[64, 1024\)"):
        length_plan(1024, max_length=1024)
    with pytest.raises(ValueError, match="shorter than one patch"):
        length_plan(16, patch_len=32, min_length=8)


# ----------------------------------------------------------------------------- grid placement


def test_place_on_grid_is_identity_on_the_grid():
    x = series(3, 512)
    assert place_on_grid(x, 512) is x


def test_place_on_grid_keeps_straight_lines_and_their_end_points():
    x = series(4, 1023)
    y = place_on_grid(x, 512)
    assert y.shape == (4, 512)

    ramp = torch.stack([torch.linspace(-3.0, 5.0, 1023), torch.linspace(2.0, 2.5, 1023)])
    out = place_on_grid(ramp, 512)
    expected = torch.stack([torch.linspace(-3.0, 5.0, 512), torch.linspace(2.0, 2.5, 512)])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


# ----------------------------------------------------------------------------- re-patching


def test_repatch_odd_count_pads_at_the_end():
    tokens = torch.randn(2, 5, 3)
    out = repatch(tokens, 2)
    assert out.shape == (2, 3, 6)
    assert torch.equal(out[:, 0], torch.cat([tokens[:, 0], tokens[:, 1]], dim=-1))
    assert torch.equal(out[:, 1], torch.cat([tokens[:, 2], tokens[:, 3]], dim=-1))
    assert torch.equal(out[:, -1, :3], tokens[:, -1])
    assert torch.equal(out[:, -1, 3:], torch.zeros(2, 3))


def test_repatch_even_count_adds_no_zeros():
    tokens = torch.randn(2, 6, 3) + 10.0  # no value is zero
    out = repatch(tokens, 2)
    assert out.shape == (2, 3, 6)
    assert (out != 0).all()
    assert torch.equal(out.reshape(2, 6, 3), tokens)


@pytest.mark.parametrize("n_tokens", [1, 5, 7, 8])
def test_conv_like_layer_halves_tokens_rounding_up(n_tokens):
    torch.manual_seed(0)
    for fusion in ("cross_attention", "residual"):
        layer = ConvLikeTransformerLayer(small(512, fusion=fusion), 8, 16).eval()
        h, weights = layer(torch.randn(2, n_tokens, 8))
        assert h.shape == (2, math.ceil(n_tokens / 2), 16)
        if fusion == "cross_attention":
            assert weights.shape == (2, 2, math.ceil(n_tokens / 2), n_tokens)


# ----------------------------------------------------------------------------- scales


@pytest.mark.parametrize("length", [512, 1023, 1024, 2047, 2048])
def test_encoder_scales(length):
    plan = length_plan(length)
    paper = CSFTConfig(lookback=length, horizon=24, n_channels=1)  # default widths, not built
    assert paper.widths() == [16 * 2**level for level in range(plan.n_ctl + 1)]
    assert paper.widths()[-1] == 16 * 2**plan.n_ctl

    capped = CSFTConfig(lookback=length, horizon=24, n_channels=1, d_max=64)
    assert capped.widths() == [min(16 * 2**level, 64) for level in range(plan.n_ctl + 1)]
    assert max(capped.widths()) == 64

    model = encoder(length, d_max=32)
    with torch.no_grad():
        scales = model(series(2, length))
    assert len(scales.hidden) == plan.n_ctl + 1
    assert len(scales.attention) == plan.n_ctl
    tokens = model.config.tokens()
    assert tokens[0] == plan.grid_length // 16 and tokens[-1] == 1
    for level, h in enumerate(scales.hidden):
        assert h.shape == (2, tokens[level], model.config.widths()[level])
        assert torch.isfinite(h).all()
    assert scales.grid.shape == (2, plan.grid_length)


def test_uncapped_final_width_doubles_per_scale():
    model = encoder(512)  # d_0 = 8, L = 5
    with torch.no_grad():
        scales = model(series(2, 600))
    assert [h.shape[-1] for h in scales.hidden] == [8 * 2**level for level in range(6)]
    assert scales.hidden[-1].shape == (2, 1, 8 * 2**5)


def test_lengths_of_one_interval_share_the_feature_space():
    shapes = {}
    for length in (512, 1023, 1024):
        cfg = CSFTConfig(lookback=length, horizon=24, n_channels=1)
        shapes[length] = (cfg.widths()[-1], cfg.tokens())
    assert shapes[512] == shapes[1023] == (512, [32, 16, 8, 4, 2, 1])
    assert shapes[1024] == (1024, [64, 32, 16, 8, 4, 2, 1])
    assert shapes[1024] != shapes[512]


def test_represent_returns_one_vector_per_series():
    model = encoder(512)
    with torch.no_grad():
        z = model.represent(series(3, 777))
    assert z.shape == (3, model.config.widths()[-1])


# ----------------------------------------------------------------------------- fusion


@pytest.mark.parametrize(
    ("fusion", "attention_residual"),
    [("cross_attention", True), ("cross_attention", False), ("residual", True)],
)
def test_gradients_reach_the_finest_scale(fusion, attention_residual):
    model = encoder(256, fusion=fusion, attention_residual=attention_residual).train()
    scales = model(series(2, 256))
    # A random projection, not a plain sum: H_L ends in a LayerNorm (attention_residual), whose
    # outputs have a fixed sum and a fixed sum of squares, so those losses have zero gradient.
    probe = torch.randn(scales.hidden[-1].shape, generator=torch.Generator().manual_seed(3))
    loss = (scales.hidden[-1] * probe).sum()
    (grad,) = torch.autograd.grad(loss, scales.hidden[0])
    assert grad.shape == scales.hidden[0].shape
    assert torch.isfinite(grad).all()
    assert grad.abs().sum() > 0


def test_residual_fusion_replaces_cross_attention():
    attention = encoder(256, fusion="cross_attention")
    residual = encoder(256, fusion="residual")
    x = series(3, 256)
    with torch.no_grad():
        att_scales, res_scales = attention(x), residual(x)

    assert res_scales.attention == [None] * len(residual.layers)
    widths = residual.config.widths()
    for level, layer in enumerate(residual.layers, start=1):
        assert isinstance(layer.fusion, ResidualFusion)
        assert isinstance(layer.fusion.project, torch.nn.Linear)
        assert layer.fusion.project.in_features == 2 * widths[level - 1]
        assert layer.fusion.project.out_features == widths[level]

    tokens = attention.config.tokens()
    for level, weights in enumerate(att_scales.attention, start=1):
        assert weights.shape == (3, 2, tokens[level], tokens[level - 1])
        assert (weights >= 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, tokens[level]))

    def count(model: torch.nn.Module) -> int:
        return sum(p.numel() for p in model.parameters())

    assert count(attention) != count(residual)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_raises(bad):
    x = series(2, 512)
    x[1, 100] = bad
    with pytest.raises(ValueError, match="NaN"):
        encoder(512)(x)


def test_length_outside_the_model_interval_raises():
    model = encoder(512)
    for length in (1024, 300):
        with pytest.raises(ValueError, match=rf"T={length}.*\[512, 1024\)"):
            model(series(1, length))
    with pytest.raises(ValueError, match=r"T=40"):
        model(series(1, 40))


def test_invalid_config_raises():
    with pytest.raises(ValueError, match="foo"):
        CSFTConfig(lookback=512, horizon=24, n_channels=1, fusion="foo")
    with pytest.raises(ValueError, match="d_max=8"):
        CSFTConfig(lookback=512, horizon=24, n_channels=1, d_max=8)  # below d_model=16
    with pytest.raises(ValueError, match="T=32"):
        CSFTConfig(lookback=32, horizon=24, n_channels=1).plan  # noqa: B018


# ----------------------------------------------------------------------------- forecaster


def forecaster(lookback: int = 512, n_channels: int = 3, **overrides) -> CSFT:
    torch.manual_seed(0)
    config = CSFTConfig(lookback=lookback, horizon=24, n_channels=n_channels, **SMALL, **overrides)
    return CSFT(config).eval()


def test_forecaster_accepts_any_length_of_its_interval():
    model = forecaster()
    with torch.no_grad():
        for length in (512, 700, 1023):
            out = model(torch.randn(2, length, 3))
            assert out.shape == (2, 24, 3)
            assert torch.isfinite(out).all()
        with pytest.raises(ValueError, match="T=1024"):
            model(torch.randn(2, 1024, 3))


def test_forecaster_channels_are_independent():
    model = forecaster()
    x = torch.randn(2, 600, 3)
    changed = x.clone()
    changed[:, :, 1] = torch.randn(2, 600) * 4 + 3
    with torch.no_grad():
        a, b = model(x), model(changed)
    torch.testing.assert_close(a[:, :, 0], b[:, :, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(a[:, :, 2], b[:, :, 2], atol=1e-5, rtol=0)
    assert not torch.allclose(a[:, :, 1], b[:, :, 1])


def test_revin_makes_the_forecast_follow_a_level_shift():
    model = forecaster()
    x = torch.randn(2, 512, 3)
    with torch.no_grad():
        base, shifted = model(x), model(x + 5.0)
    torch.testing.assert_close(shifted, base + 5.0, atol=1e-4, rtol=0)
    assert not torch.allclose(base, torch.zeros_like(base))


# ----------------------------------------------------------------------------- configuration


def test_patch_len_must_tile_the_grid():
    # A patch_len that does not tile the 2^k grid would drop grid points and leave H_L with
    # more than one token; it is a configuration error instead.
    with pytest.raises(ValueError, match="patch_len=24"):
        encoder(512, patch_len=24)
    assert encoder(512, patch_len=32).config.plan.n_ctl == 4


def test_no_unused_parameters_without_attention_residual():
    torch.manual_seed(0)
    model = CSFT(CSFTConfig(256, 24, 1, attention_residual=False, **SMALL))
    model(torch.randn(2, 256, 1)).pow(2).mean().backward()
    unused = [name for name, p in model.named_parameters() if p.grad is None]
    assert not unused, unused


def test_input_norm_switch_keeps_or_removes_level_and_scale():
    x = series(3, 256)
    torch.manual_seed(0)
    instance = CSFTEncoder(small(256)).eval()
    raw = CSFTEncoder(small(256, input_norm="none")).eval()
    raw.load_state_dict(instance.state_dict())  # the same weights: only the switch differs
    with torch.no_grad():
        torch.testing.assert_close(instance.represent(3 * x + 5), instance.represent(x))
        assert not torch.allclose(raw.represent(3 * x + 5), raw.represent(x), atol=1e-3)
    with pytest.raises(ValueError, match="input_norm must be one of"):
        small(256, input_norm="batch")
