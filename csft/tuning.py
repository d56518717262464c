"""Equal-budget hyperparameter search with Optuna: search spaces from the config, the official
recipe as trial 0, a seeded TPE sampler, and a journal file as storage.

Why a journal file: it is Optuna's storage meant for a shared (NFS) filesystem, so a study's
trials can run as several cluster jobs, and a killed study resumes where it stopped. A study is
named by the fingerprint of everything that decides its trials, so a changed config never
mixes its trials with older ones in the same journal.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from csft.dotted import find_setting, with_setting

if TYPE_CHECKING:  # imported where used: the training jobs read best.json without Optuna
    import optuna


def distribution(path: str, spec: Mapping) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution of one search-space entry: {choices: [...]} (categorical),
    or {low, high, log?, type?: int|float}; a bad entry is refused naming `path`."""
    import optuna

    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ValueError(f"tuning space {path}: choices must be a non-empty list")
        return optuna.distributions.CategoricalDistribution(choices)
    kind = spec.get("type", "float")
    if kind not in ("float", "int") or "low" not in spec or "high" not in spec:
        raise ValueError(
            f"tuning space {path}: give choices, or low and high (type float or int), got {spec}"
        )
    low, high, log = spec["low"], spec["high"], bool(spec.get("log", False))
    if not low < high or (log and low <= 0):
        raise ValueError(f"tuning space {path}: needs low < high (and low > 0 with log), {spec}")
    if kind == "int":
        return optuna.distributions.IntDistribution(int(low), int(high), log=log)
    return optuna.distributions.FloatDistribution(float(low), float(high), log=log)


def space_of(spec: Mapping[str, Mapping]) -> dict[str, optuna.distributions.BaseDistribution]:
    """A model's search space, dotted setting path -> distribution."""
    return {path: distribution(path, entry) for path, entry in spec.items()}


def official_params(space: Mapping, settings: Mapping, where: str) -> dict[str, Any]:
    """The recipe's own value of every searched setting: trial 0, so tuning can only match or
    beat the official recipe. A path the recipe lacks or a value outside the space is refused,
    naming `where` and the path."""
    params = {}
    for path, dist in space.items():
        found, value = find_setting(settings, path)
        if not found:
            raise ValueError(
                f"{where}: {path!r} names no setting of the recipe; its blocks: "
                + ", ".join(f"{k}: {sorted(v)}" for k, v in settings.items() if isinstance(v, dict))
            )
        if not _inside(dist, value):
            raise ValueError(
                f"{where}: the recipe's {path} = {value!r} lies outside the search space "
                f"{dist}; widen it so trial 0 can be the official recipe"
            )
        params[path] = value
    return params


def _inside(dist: optuna.distributions.BaseDistribution, value: Any) -> bool:
    import optuna

    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return value in dist.choices
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(dist, optuna.distributions.IntDistribution):
        number = number and float(value).is_integer()
    return number and dist.low <= value <= dist.high


def suggest(trial: optuna.Trial, path: str, dist: optuna.distributions.BaseDistribution):
    """The trial's value of one setting (an enqueued trial 0 gets the official one)."""
    import optuna

    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(path, dist.choices)
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(path, dist.low, dist.high, log=dist.log)
    return trial.suggest_float(path, dist.low, dist.high, log=dist.log)


def apply(settings: Mapping, params: Mapping[str, Any]) -> dict:
    """`settings` with every dotted path of `params` set to its value."""
    changed = dict(settings)
    for path, value in params.items():
        changed = with_setting(changed, path, value)
    return changed


def fingerprint(values: Mapping) -> str:
    """A short hash of everything that decides a study's trials (its name in the journal)."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def open_study(journal: str | os.PathLike, name: str, sampler_seed: int) -> optuna.Study:
    """The study `name` in the journal file (created, or loaded to resume), TPE seeded."""
    import optuna

    os.makedirs(os.path.dirname(os.path.abspath(journal)), exist_ok=True)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))
    )
    return optuna.create_study(
        study_name=name,
        storage=storage,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=sampler_seed),
        load_if_exists=True,
    )


def finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that count against the budget: completed, and failed (a diverging recipe)."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return study.get_trials(deepcopy=False, states=states)


def search(
    study: optuna.Study,
    space: Mapping,
    official: Mapping[str, Any],
    trials: int,
    objective: Callable[[int, dict[str, Any]], float],
) -> optuna.Study:
    """Run `study` until `trials` trials have finished, the first the official recipe.

    `objective(number, params)` trains with `params` (dotted path -> value) and returns the
    validation loss; a non-finite loss fails the trial, which still counts.
    """
    if not study.trials:
        study.enqueue_trial(dict(official), skip_if_exists=True)

    def run_trial(trial: optuna.Trial) -> float:
        params = {path: suggest(trial, path, dist) for path, dist in space.items()}
        loss = objective(trial.number, params)
        if not math.isfinite(loss):
            raise ValueError(f"trial {trial.number}: validation loss {loss}")
        return loss

    remaining = trials - len(finished(study))
    if remaining > 0:
        study.optimize(run_trial, n_trials=remaining, catch=(ValueError,))
    return study


def best_summary(study: optuna.Study, official: Mapping[str, Any]) -> dict:
    """What the training rules and tables read: the best trial's settings and loss beside the
    official recipe's (trial 0), and how many trials ran."""
    import optuna

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise ValueError(f"study {study.study_name}: no trial completed")
    best = min(done, key=lambda t: (t.value, t.number))
    trial0 = next((t for t in study.trials if t.number == 0), None)
    return {
        "study": study.study_name,
        "n_trials": len(finished(study)),
        "n_failed": len(finished(study)) - len(done),
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": dict(best.params),
        "official_params": dict(official),
        "official_value": trial0.value if trial0 is not None else None,
    }


def read_best(path: str | os.PathLike) -> dict:
    """A study's best-settings file (csft.jobs.tune writes it)."""
    with open(path) as handle:
        return json.load(handle)


def tuned(
    settings: Mapping, best_path: str | os.PathLike, identity: Mapping[str, Any],
    blocks: tuple[str, ...] | None = None,
) -> tuple[dict, dict[str, str]]:  # fmt: skip
    """A job's settings dict under the tuned recipe: the best trial's value of every searched
    setting (those under `blocks` only, when given), and the tags that trace it. A file of
    another study (any `identity` item, e.g. model, dataset, look-back, differing) is refused."""
    best = read_best(best_path)
    theirs = {key: best.get(key) for key in identity}
    if theirs != dict(identity):
        raise ValueError(f"{best_path}: tuned for {theirs}, not for this job's {dict(identity)}")
    params = {
        k: v for k, v in best["best_params"].items()
        if blocks is None or k.split(".", 1)[0] in blocks
    }  # fmt: skip
    tags = {
        "recipe": "tuned",
        "tuning.study": best["study"],
        "tuning.best_trial": str(best["best_trial"]),
        "tuning.mlflow_run_id": best.get("mlflow_run_id", ""),
    }
    return apply(settings, params), tags
