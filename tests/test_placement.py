"""The uf track's placements (csft.models.placement): what each gives the encoder, and the
guarantees the comparison rests on: pad_mask never reads its padding, every placement gives one
representation size across the interval, length_aware receives T, crop is the main track's
model on the last 2^k points."""

import math

import pytest
import torch

from csft.models import placement
from csft.models.csft import CSFT, CSFTConfig, CSFTEncoder, place_on_grid
from csft.models.objectives import ReconstructionDecoders, SSLConfig, ssl_loss

SMALL = dict(patch_len=16, d_model=8, n_heads=2, dropout=0.0, min_length=64)


def encoder(place: str, seed: int = 0, **overrides) -> CSFTEncoder:
    torch.manual_seed(seed)
    config = CSFTConfig(lookback=128, horizon=8, n_channels=1, placement=place, **SMALL)
    for key, value in overrides.items():
        config = CSFTConfig(**{**config.__dict__, key: value})
    return CSFTEncoder(config).eval()


def test_grid_functions_state_their_shapes():
    x = torch.arange(200.0).view(2, 100)
    assert placement.crop_to_grid(x, 64).tolist() == x[:, -64:].tolist()
    padded = placement.pad_to_grid(x, 128)
    assert padded.shape == (2, 128) and padded[:, 100:].abs().sum() == 0
    assert torch.equal(padded[:, :100], x)
    assert place_on_grid(x, 64).shape == (2, 64)
    assert placement.length_offset(64, 64) == 0 and placement.length_offset(127, 64) < 1
    assert placement.real_tokens(100, 16, 4) == [7, 4, 2, 1]
    assert placement.padding_mask(4, 3).tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="crop T=50"):
        placement.crop_to_grid(x[:, :50], 64)
    with pytest.raises(ValueError, match="placement must be one of"):
        placement.grid_length("stretch", 64)


def test_pad_mask_grid_is_twice_the_interval_and_one_ctl_deeper():
    resampled = CSFTConfig(lookback=128, horizon=8, n_channels=1, **SMALL)
    padded = CSFTConfig(lookback=128, horizon=8, n_channels=1, placement="pad_mask", **SMALL)
    assert (resampled.grid_length, resampled.n_ctl) == (128, 3)
    assert (padded.grid_length, padded.n_ctl) == (256, 4)
    assert padded.tokens() == [16, 8, 4, 2, 1]


@pytest.mark.parametrize("fusion", ["cross_attention", "residual"])
def test_pad_mask_never_reads_the_padding(fusion):
    """Changing the padded values changes no output: not H_L, not any real token, not the loss."""
    model = encoder("pad_mask", fusion=fusion)
    torch.manual_seed(1)
    real = 150  # T in [128, 256): padded to 256, the last patch partly real
    grid = torch.randn(4, 256)
    other = grid.clone()
    other[:, real:] = torch.randn(4, 256 - real) * 100.0
    with torch.no_grad():
        a, b = model.encode_grid(grid, real), model.encode_grid(other, real)
    for level, (ha, hb) in enumerate(zip(a.hidden, b.hidden, strict=True)):
        assert torch.allclose(ha, hb, atol=1e-6), f"scale {level} read the padding"
    counts = placement.real_tokens(real, 16, len(a.hidden))
    for h, n in zip(a.hidden, counts, strict=True):
        assert h[:, n:].abs().sum() == 0  # padding tokens leave every scale as zeros
    for weights, n_fine in zip(a.attention, counts, strict=False):
        if weights is not None:  # cross-scale attention: no weight on a padding key
            assert weights[..., n_fine:].abs().sum() == 0
    decoders = ReconstructionDecoders(model.config)
    torch.manual_seed(2)
    loss_a = ssl_loss(model, decoders, grid[:, :real], SSLConfig())[0]
    loss_b = ssl_loss(model, decoders, other[:, :real], SSLConfig())[0]
    assert torch.allclose(loss_a, loss_b)


def test_pad_mask_does_read_the_real_points():
    """The control for the test above: the same comparison on real points does change H_L."""
    model = encoder("pad_mask")
    grid = torch.randn(2, 256)
    other = grid.clone()
    other[:, 10:20] += 1.0
    with torch.no_grad():
        assert not torch.allclose(model.represent(grid[:, :150]), model.represent(other[:, :150]))


@pytest.mark.parametrize("place", placement.PLACEMENTS)
def test_one_representation_size_across_the_interval(place):
    model = encoder(place)
    sizes = set()
    forecaster_sizes = set()
    torch.manual_seed(0)
    config = CSFTConfig(lookback=128, horizon=8, n_channels=2, placement=place, **SMALL)
    forecaster = CSFT(config).eval()
    for length in (128, 150, 200, 255):
        with torch.no_grad():
            sizes.add(tuple(model.represent(torch.randn(3, length)).shape))
            forecaster_sizes.add(tuple(forecaster(torch.randn(3, length, 2)).shape))
    assert sizes == {(3, model.config.widths()[-1])}
    assert forecaster_sizes == {(3, 8, 2)}


def test_length_aware_receives_the_length():
    """Two look-backs that resample to the same grid differ only in T: resample cannot tell
    them apart, length_aware can (its input tokens carry log2(T / 2^k))."""
    short = torch.linspace(-1, 2, 200).view(1, -1)  # a ramp 200 points long ...
    long = torch.linspace(-1, 2, 240).view(1, -1)  # ... and 240 points long: a straight line
    # passes the anti-aliased resampler unchanged, so both are the same 128-point grid
    plain, aware = encoder("resample"), encoder("length_aware")
    with torch.no_grad():
        same = plain.represent(short), plain.represent(long)
        told = aware.represent(short), aware.represent(long)
    assert torch.allclose(*same, atol=1e-4)  # both land on the same 128-point grid
    assert not torch.allclose(*told, atol=1e-4)
    assert aware.length_embed is not None and plain.length_embed is None
    with pytest.raises(ValueError, match="offset"):
        aware.encode_grid(torch.randn(1, 128))
    assert math.isclose(placement.length_offset(200, 128), math.log2(200 / 128))


def test_crop_equals_the_main_track_model_on_the_last_points():
    """A crop model and a fixed-128 model with the same weights forecast the same, given the
    crop model any T of the interval and the fixed model that input's last 128 points."""
    config = CSFTConfig(lookback=128, horizon=8, n_channels=3, **SMALL)
    torch.manual_seed(0)
    fixed = CSFT(config).eval()
    crop = CSFT(CSFTConfig(**{**config.__dict__, "placement": "crop"})).eval()
    crop.load_state_dict(fixed.state_dict())
    x = torch.randn(4, 201, 3) * 5 + 2
    with torch.no_grad():
        assert torch.allclose(crop(x), fixed(x[:, -128:]), atol=1e-6)
        assert torch.allclose(crop.represent(x[:, :, 0]), fixed.represent(x[:, -128:, 0]))


def test_classifier_refuses_a_forecasting_placement():
    from csft.models.csft import CSFTClassifier

    config = CSFTConfig(lookback=128, horizon=1, n_channels=1, placement="pad_mask", **SMALL)
    with pytest.raises(ValueError, match="uf track only"):
        CSFTClassifier(config, n_classes=2)
