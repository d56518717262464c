"""PatchTST (baselines/patchtst.py): sizes, patching, residual attention, RevIN, representations.

Pure tests of our code. The pinned parameter counts were counted from the official supervised
PatchTST (github.com/yuqinie98/PatchTST, PatchTST_supervised/models/PatchTST.py) with the
official scripts' settings; the official code itself is never imported here.
"""

import pytest
import torch

from baselines.patchtst import PatchTST, PatchTSTConfig

ETTH1 = {"n_heads": 4, "d_model": 16, "d_ff": 128, "dropout": 0.3}  # scripts/PatchTST/etth1.sh
ETTM1 = {"n_heads": 16, "d_model": 128, "d_ff": 256, "dropout": 0.2}  # scripts/PatchTST/ettm1.sh
SMALL = {"n_heads": 2, "d_model": 8, "d_ff": 16, "dropout": 0.1}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def series(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def seeded(config: PatchTSTConfig, seed: int = 0) -> PatchTST:
    torch.manual_seed(seed)
    return PatchTST(config)


@pytest.mark.parametrize(
    ("horizon", "arch", "expected"),
    [(96, ETTH1, 81_731), (720, ETTH1, 501_683), (96, ETTM1, 921_187)],
)
def test_parameter_counts_match_the_official_model(horizon, arch, expected):
    with torch.device("meta"):
        model = PatchTST(PatchTSTConfig(336, horizon, 7, **arch))
    assert n_params(model) == expected
    # Everything but the three frozen attention scales trains.
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == expected - 3


def captured_patches(model: PatchTST, x: torch.Tensor) -> torch.Tensor:
    """The (N, P, patch_len) patches that enter the patch embedding W_P."""
    seen = []
    handle = model.W_P.register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
    try:
        with torch.no_grad():
            model.encode(x)
    finally:
        handle.remove()
    return seen[0]


def test_end_padding_repeats_the_last_value_stride_times():
    padded = PatchTSTConfig(336, 96, 1, **SMALL)
    plain = PatchTSTConfig(336, 96, 1, pad_end=False, **SMALL)
    assert padded.n_patches == 42 and plain.n_patches == 41

    x = series(3, 336)
    patches = captured_patches(seeded(padded).eval(), x)
    assert patches.shape == (3, 42, 16)
    assert seeded(padded).eval().encode(x).shape == (3, 42, SMALL["d_model"])
    for p in range(42):  # patch p covers the padded series [8p, 8p + 16)
        start = 8 * p
        expected = torch.cat([x, x[:, -1:].expand(-1, 8)], dim=1)[:, start : start + 16]
        assert torch.equal(patches[:, p], expected)
    assert torch.equal(patches[:, -1, 8:], x[:, -1:].expand(-1, 8))  # last value, stride times

    # Changing the last value reaches the last two patches only (the ones that hold it).
    x2 = x.clone()
    x2[:, -1] = 1e3
    changed = (captured_patches(seeded(padded).eval(), x2) != patches).any(dim=(0, 2))
    assert changed.nonzero().flatten().tolist() == [40, 41]

    unpadded = captured_patches(seeded(plain).eval(), x)
    assert unpadded.shape == (3, 41, 16)
    assert torch.equal(unpadded[:, -1], x[:, 320:336])


@pytest.mark.parametrize(("n_layers", "changes"), [(3, True), (1, False)])
def test_residual_attention_needs_a_previous_layer(n_layers, changes):
    on = seeded(PatchTSTConfig(64, 24, 2, n_layers=n_layers, **SMALL)).eval()
    off = PatchTST(
        PatchTSTConfig(64, 24, 2, n_layers=n_layers, residual_attention=False, **SMALL)
    ).eval()
    off.load_state_dict(on.state_dict())
    x = series(4, 64, 2)
    with torch.no_grad():
        same = torch.equal(on(x), off(x))
    assert same is not changes


def test_attention_scale_is_a_frozen_parameter():
    model = PatchTST(PatchTSTConfig(64, 24, 2, n_heads=4, d_model=32))
    names = dict(model.named_parameters())
    for i in range(3):
        scale = names[f"layers.{i}.self_attn.scale"]
        assert not scale.requires_grad
        assert scale.item() == pytest.approx((32 // 4) ** -0.5)  # d_head ** -0.5


def test_revin_makes_forecasts_shift_equivariant_and_keeps_input_gradients():
    model = seeded(PatchTSTConfig(96, 24, 3, **SMALL)).eval()
    x = series(4, 96, 3)
    with torch.no_grad():
        assert torch.allclose(model(x + 3), model(x) + 3, atol=1e-4)

    # The statistics are constants for autograd; the input still gets a finite gradient.
    x = x.clone().requires_grad_(True)
    _, (mean, std) = model.revin.normalize(x)
    assert not mean.requires_grad and not std.requires_grad
    model(x).pow(2).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize(("representation", "width"), [("mean", 8), ("flatten", 8 * 12)])
def test_represent_shapes_are_finite_and_deterministic(representation, width):
    config = PatchTSTConfig(96, 24, 1, representation=representation, **SMALL)
    assert config.n_patches == 12  # (96 - 16) / 8 + 1 + 1
    model = seeded(config).eval()
    x = series(5, 96)
    with torch.no_grad():
        features = model.represent(x)
        assert features.shape == (5, width)
        assert torch.isfinite(features).all()
        assert torch.equal(features, model.represent(x))


def test_invalid_configs_raise():
    with pytest.raises(ValueError, match="divisible"):
        PatchTSTConfig(96, 24, 1, d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="shorter than one patch"):
        PatchTSTConfig(8, 24, 1, patch_len=16)
    with pytest.raises(ValueError, match="representation"):
        PatchTSTConfig(96, 24, 1, representation="max")
