"""What gaps in a series cost CSFT's frozen features before any training, per input path.

    python benchmarks/gap_inputs.py [--data MIRROR] [--datasets Chinatown GunPoint ECG200]
        [--p 0 0.1 0.3] [--inits 3] [--configfile config/irregular_check.yaml] [--out results/bench]

The irregular-sampling question (docs/open_questions.md) found the time-aware CSFT's UCR error
jumping at p = 0.1 after 60 + 60 training steps. This separates the input from the training:
randomly initialised encoders (`--inits` of them, the config's classification architecture),
an RBF SVM on their H_L (the SVM probe's protocol), TRAIN and TEST with the question's own
removal (csft.data.irregular, seed 2021), for these inputs:

- `interpolate`: removed points interpolated back (the baseline);
- `time_aware`: NaN at removed points, CSFT's `missing_mask` path ([values x mask, mask]
  embedding, masked attention);
- `time_aware, mask weights 0`: the same, with the embedding's weights on the mask channel set
  to 0, so the mask itself adds nothing;
- `zero_filled`: removed points set to 0 and encoded as an ordinary series (no mask at all).

If the last two match `time_aware`, the loss comes from the gaps reaching an encoder that has
not learnt to read them, not from the mask code. Accuracy, mean ± sd over inits, to
gap_inputs.md / .csv under --out.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from csft import atomic
from csft.config import classify_settings
from csft.cost import load_config
from csft.data.ucr import load_ucr, scale
from csft.jobs.classify_run import data_protocol, prepare_series
from csft.models.csft import CSFTConfig, CSFTEncoder
from csft.training.classify import csft_groups, represent_groups, svm_on_features

ROOT = Path(__file__).resolve().parents[1]
REMOVAL_SEED = 2021
INPUTS = ("interpolate", "time_aware", "time_aware, mask weights 0", "zero_filled")


def splits(name: str, config: dict, p: float, method: str, data: Path) -> dict:
    """{split: (series, labels)} as the question's classification job prepares them, from
    `data`/UCR/`name`/ (the mirror's layout)."""
    protocol = data_protocol(config)
    dataset = scale(load_ucr(data, name, protocol.missing_values), protocol.scaling)
    where = {split: f"UCR {name}" for split in ("TRAIN", "TEST")}
    prepare_series(dataset, protocol, {"p": p, "method": method}, REMOVAL_SEED, name, where)
    return {
        split: (part.series, part.labels)
        for split, part in (("TRAIN", dataset.train), ("TEST", dataset.test))
    }


def probe_accuracy(
    data: dict, architecture: dict, init: int, missing: bool = False, mask_weights: bool = True
) -> float:
    """Test accuracy of an RBF SVM on a randomly initialised encoder's H_L; `missing`: the
    time-aware path (`missing_mask`), `mask_weights` False: its mask channel's weights 0."""
    lookback = max(len(s) for s in data["TRAIN"][0])
    config = CSFTConfig(
        lookback=lookback, horizon=1, n_channels=1, missing_mask=missing, **architecture
    )
    torch.manual_seed(init)
    encoder = CSFTEncoder(config)
    if not mask_weights:
        with torch.no_grad():
            encoder.embed.weight[:, config.patch_len :] = 0.0  # the mask channel's columns
    features = {}
    for split, (series, labels) in data.items():
        groups = csft_groups(series, labels, config, "common")
        parts = represent_groups(encoder, groups, 64)
        features[split] = np.empty((len(series), parts[0].shape[1]), dtype=np.float32)
        for group, part in zip(groups, parts, strict=True):
            features[split][group.index] = part
    svm = svm_on_features(features["TRAIN"], data["TRAIN"][1])
    return float((svm.predict(features["TEST"]) == data["TEST"][1]).mean())


def measure(name: str, config: dict, p: float, inits: int, data: Path) -> list[dict]:
    """One row per input: the SVM probe's accuracy over `inits` random encoders."""
    recipe = classify_settings(config, "csft")["architecture"]
    architecture = {k: v for k, v in recipe.items() if k != "missing_mask"}
    gaps = splits(name, config, p, "time_aware", data)
    interpolated = splits(name, config, p, "interpolate", data)
    zero_filled = {k: ([np.nan_to_num(s, nan=0.0) for s in x], y) for k, (x, y) in gaps.items()}
    inputs = {
        "interpolate": lambda i: probe_accuracy(interpolated, architecture, i),
        "time_aware": lambda i: probe_accuracy(gaps, architecture, i, missing=True),
        "time_aware, mask weights 0": lambda i: probe_accuracy(
            gaps, architecture, i, missing=True, mask_weights=False
        ),
        "zero_filled": lambda i: probe_accuracy(zero_filled, architecture, i),
    }
    rows = []
    for label, accuracy in inputs.items():
        values = [accuracy(i) for i in range(inits)]
        rows.append(
            {"dataset": name, "p": p, "input": label, "accuracy": np.mean(values),
             "accuracy_sd": np.std(values, ddof=1) if inits > 1 else np.nan, "inits": inits}
        )  # fmt: skip
        print(f"{name} p={p} {label}: {np.mean(values):.3f}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["Chinatown", "GunPoint", "ECG200"])
    parser.add_argument("--p", nargs="+", type=float, default=[0.0, 0.1, 0.3])
    parser.add_argument("--inits", type=int, default=3)
    parser.add_argument("--configfile", nargs="*", default=["config/irregular_check.yaml"])
    parser.add_argument(
        "--data", type=Path, default=os.environ.get("CSFT_DATA_MIRROR"),
        help="a folder holding UCR/<name>/ (default: $CSFT_DATA_MIRROR)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    args = parser.parse_args()
    if args.data is None:
        parser.error("no UCR data: pass --data or set CSFT_DATA_MIRROR")
    torch.set_num_threads(1)
    config = load_config(args.configfile)
    rows = [
        r
        for n in args.datasets
        for p in args.p
        for r in measure(n, config, p, args.inits, args.data)
    ]
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(args.out / "gap_inputs.csv", table.to_csv(index=False))
    wide = table.pivot_table(index=["dataset", "p"], columns="input", values="accuracy")
    atomic.write_text(args.out / "gap_inputs.md", wide[list(INPUTS)].round(3).to_markdown() + "\n")
    print(wide[list(INPUTS)].round(3).to_markdown())


if __name__ == "__main__":
    main()
