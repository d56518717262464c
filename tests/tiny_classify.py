"""Small synthetic classification data and tiny settings of every built-in classifier, shared
by the classification job tests and the contract test."""

import numpy as np

from csft.data.ucr import UCRDataset, UCRSplit

SETTINGS = {
    "csft": {
        "architecture": {"d_model": 8, "n_heads": 2, "d_max": 16},
        "pretraining": {"steps": 6, "batch_size": 8},
        "training": {"batch_size": 8, "steps": 9, "patience": 2, "learning_rate": 3e-3},
    },
    "patchtst": {
        "architecture": {"d_model": 8, "n_heads": 2, "d_ff": 16, "n_layers": 1},
        "training": {"batch_size": 8, "steps": 9, "patience": 2},
    },
    "ts2vec": {"hidden_dims": 8, "output_dims": 16, "depth": 2, "steps": 6, "threads": 1},
    "minirocket": {"n_kernels": 84, "threads": 1},
    "dtw_1nn": {"window": 0.2, "threads": 1},
}


def synthetic(n_train=40, n_test=30, lengths=(64, 200), seed=0) -> UCRDataset:
    """Two classes (a sine, or a sine plus a step) at lengths drawn from `lengths`."""
    rng = np.random.default_rng(seed)

    def split(n):
        labels = rng.integers(0, 2, n)
        series = []
        for label in labels:
            t = np.linspace(
                0, 6 * np.pi, int(rng.integers(*lengths)) if lengths[0] < lengths[1] else lengths[0]
            )
            values = np.sin(t) + label * (t > t[len(t) // 2]) + 0.2 * rng.standard_normal(t.size)
            series.append(values.astype(np.float32))
        return UCRSplit(series, labels.astype(np.int64))

    return UCRDataset("Synthetic", np.array([1, 2]), split(n_train), split(n_test))
