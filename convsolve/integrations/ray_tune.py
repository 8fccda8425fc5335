"""Ray Tune: a search algorithm that only ever proposes valid architectures.

    tuner = tune.Tuner(train, tune_config=tune_config(space, metric="loss", mode="min", num_samples=50))

``ValidSearcher(space)`` is a :class:`ray.tune.search.Searcher`: each ``suggest`` returns one valid
assignment of the space (parameter name -> value; a parameter out of the network, whose op is not
chosen or whose copy is beyond the depth, is absent), drawn uniformly over all valid assignments and
reproducible by seed. Validity is over the space's whole input range, constraints and targets
included, so a trial never trains an architecture that breaks at some input size. The draws come
from the space's dynamic programme, built once per searcher (:class:`convsolve.integrations.optuna.ValidDraws`):
a draw is one unranking, milliseconds.

Ray Tune's own random search over ``tune.choice`` of every parameter ignores what the parameters do
to each other (and which are active): ``scripts/ray_tune_invalid_rate.py`` measures how many of its
trials are invalid on the shipped NAS spaces.

``param_space`` of the Tuner may hold constants (epochs, a data path), which Ray adds to every
trial's config; it may not hold Ray search domains (``tune.choice``, ``tune.uniform``, grid search)
nor a parameter of the space: :class:`ValidSearcher` refuses both with a :class:`~convsolve.errors.UsageError`.
Ray Tune gives a searcher the Tuner's ``metric`` and ``mode`` only when ``param_space`` is not empty;
:func:`tune_config` passes them to both.

Importing this module does not import Ray (Ray takes seconds to import); the first use of
:data:`ValidSearcher` or :func:`tune_config` does, and says which extra to install when Ray is missing.

Example:
    >>> from ray import tune                                           # doctest: +SKIP
    >>> from convsolve import load_space
    >>> space = load_space("configs/spaces/nas_bench_201.yaml")        # doctest: +SKIP
    >>> def train(config):                                              # config: one valid assignment
    ...     return {"loss": len(space.fixed(config).order)}             # toy score: the number of layers
    >>> tuner = tune.Tuner(train, tune_config=tune_config(space, metric="loss", mode="min", num_samples=8))  # doctest: +SKIP
    >>> tuner.fit().get_best_result().config                            # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingExtraError, UsageError
from ..space import Space, load_space
from .optuna import ValidDraws, import_optuna, suggest_valid

if TYPE_CHECKING:
    from ray.tune import TuneConfig

__all__ = ["ValidSearcher", "search_domains", "space_key", "tune_config"]  # noqa: F822 - ValidSearcher: the module's __getattr__


def space_key(space: Space) -> str:
    """A digest of the space's config: a searcher's saved state restores only into a searcher of the same space.

    Example:
        >>> space = Space.from_config({"input": {"channels": 1, "size": 8}, "layers": [
        ...     {"name": "c", "type": "conv2d", "out_channels": 1, "kernel": {"choice": [1, 3]}}]})
        >>> len(space_key(space))
        16
    """
    text = json.dumps(space.to_config(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def search_domains(param_space: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The keys of ``param_space`` (nested keys joined by ``/``) that Ray Tune would search: a Ray domain
    (``tune.choice``, ``tune.uniform``, ...) or a grid search. Constants are not listed.

    Example:
        >>> search_domains({"epochs": 3, "opt": {"lr": {"grid_search": [0.1, 0.01]}, "name": "sgd"}})
        ['opt/lr']
    """
    found = []
    for key, value in param_space.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if "grid_search" in value:
                found.append(name)
            else:
                found.extend(search_domains(value, f"{name}/"))
        elif type(value).__module__.startswith("ray.tune.search"):  # a Domain (Categorical, Float, Function, ...)
            found.append(name)
    return found


def __getattr__(name: str) -> Any:
    """``ValidSearcher``: defined on first use, as it subclasses Ray's Searcher and so imports Ray."""
    if name == "ValidSearcher":
        return searcher_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def searcher_class() -> type[Any]:
    """The class :data:`ValidSearcher` (a subclass of ``ray.tune.search.Searcher``), defined once.

    Raises:
        MissingExtraError: Ray Tune is not installed.
    """
    try:
        from ray.tune.search import Searcher
    except ImportError:
        raise MissingExtraError("ray[tune]", "ray") from None

    class ValidSearcher(Searcher):
        """A Ray Tune searcher whose every suggestion is a valid assignment of ``space``, drawn uniformly (or by an Optuna sampler).

        Parameters
        ----------
        space : Space, or a path to a search-space config
            The search space; its table is built once, here.
        metric, mode : str, optional
            The metric the trials report and ``"min"`` or ``"max"``; recorded with each completed trial.
            Ray Tune fills them in from the Tuner's only when ``param_space`` is not empty (see :func:`tune_config`).
        seed : int
            The uniform draws are a function of the seed and the number of suggestions before them.
        sampler : optuna.samplers.BaseSampler, optional
            Model-based search instead of uniform draws: an Optuna sampler (``TPESampler(seed=0)``) chooses each
            decision among the values that still admit a valid completion
            (:func:`convsolve.integrations.optuna.suggest_valid`) and learns from each completed trial's metric;
            needs ``metric`` and ``mode`` and the optuna extra. Failed trials, and trials that did not report the
            metric, are told to Optuna as failed.

        Attributes
        ----------
        suggested : dict
            Trial id -> the assignment suggested for it, in the order suggested.
        results : dict
            Trial id -> the last result it reported (None when it failed), for every completed trial.

        Raises
        ------
        UsageError
            When no assignment of the space is valid.
        MissingExtraError
            When Ray Tune is not installed, or a sampler is given and Optuna is not.
        """

        def __init__(self, space: Space | str | Path, metric: str | None = None, mode: str | None = None, seed: int = 0,
                     sampler: Any = None) -> None:
            super().__init__(metric=metric, mode=mode)
            self.space = space if isinstance(space, Space) else load_space(space)
            self.draws = ValidDraws(self.space)
            self.seed = seed
            self.rng = random.Random(seed)
            self.sampler = sampler
            self.study: Any = None
            """The Optuna study of a model-based searcher, created at its first suggestion (when the mode is known)."""
            self.asked: dict[str, Any] = {}
            """Trial id -> the Optuna trial of a suggestion not yet completed."""
            self.suggested: dict[str, dict[str, Any]] = {}
            self.results: dict[str, dict[str, Any] | None] = {}
            if sampler is not None:
                import_optuna()

        def suggest(self, trial_id: str) -> dict[str, Any]:
            """A valid assignment: uniform over all valid assignments of the space, or the sampler's choice among them.

            Raises:
                UsageError: a model-based searcher without a metric and mode.
            """
            if self.sampler is None:
                ranking = self.draws.ranking
                drawn = ranking.values(ranking.assignments([self.rng.randrange(ranking.total)]))[0]
            else:
                if self.study is None:
                    if self._metric is None or self._mode not in ("min", "max"):
                        raise UsageError("a ValidSearcher with a sampler learns from a metric: give it metric and mode "
                                         "(mode 'min' or 'max'), or use tune_config(space, metric=..., mode=..., sampler=...)")
                    direction = "minimize" if self._mode == "min" else "maximize"
                    self.study = import_optuna().create_study(direction=direction, sampler=self.sampler)
                trial = self.asked[trial_id] = self.study.ask()
                drawn = suggest_valid(trial, self.space, draws=self.draws)
            assignment = {name: drawn[name] for name in self.space.params if name in drawn}
            self.suggested[trial_id] = assignment
            return dict(assignment)

        def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
            """Record the trial's last result (None when it failed), and tell the sampler its metric."""
            self.results[trial_id] = None if error or result is None else dict(result)
            trial = self.asked.pop(trial_id, None)
            if trial is None:
                return
            score = None if error or result is None or self._metric is None else result.get(self._metric)
            if score is None:
                self.study.tell(trial, state=import_optuna().trial.TrialState.FAIL)
            else:
                self.study.tell(trial, float(score))

        def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any) -> bool:
            """Take the Tuner's metric and mode where none were given; refuse a ``param_space`` with search domains
            or with a parameter of the space (the suggestion would silently replace it).

            Raises:
                UsageError: naming the keys of ``param_space`` that cannot be honoured.
            """
            searched = search_domains(config)
            if searched:
                raise UsageError(
                    f"param_space: {', '.join(map(repr, searched))} {'is a Ray search domain' if len(searched) == 1 else 'are Ray search domains'}, "
                    f"but ValidSearcher draws only the parameters of the space {self.space.name!r}; give param_space constants only, "
                    "or make the choice a parameter of the space")
            clashing = [name for name in config if name in self.space.params]
            if clashing:
                raise UsageError(
                    f"param_space: {', '.join(map(repr, clashing))} {'is a parameter' if len(clashing) == 1 else 'are parameters'} "
                    f"of the space {self.space.name!r}, which ValidSearcher chooses; leave {'it' if len(clashing) == 1 else 'them'} out "
                    "of param_space, or fix the value in the space's config")
            self._metric = self._metric or metric
            self._mode = self._mode or mode
            return True

        def get_state(self) -> dict[str, Any]:
            """What :meth:`save` writes: the draws so far, the random state and the results."""
            return {"space": space_key(self.space), "seed": self.seed, "rng": self.rng.getstate(), "metric": self._metric,
                    "mode": self._mode, "suggested": dict(self.suggested), "results": dict(self.results),
                    "sampler": self.sampler, "study": self.study, "asked": dict(self.asked)}

        def set_state(self, state: dict[str, Any]) -> None:
            """Continue from :meth:`get_state`'s dictionary.

            Raises:
                UsageError: the state was saved by a searcher of another space.
            """
            if state["space"] != space_key(self.space):
                raise UsageError(f"this searcher state was saved for another space than {self.space.name!r}: restore it into a "
                                 "ValidSearcher of the same space")
            self.seed, self._metric, self._mode = state["seed"], state["metric"], state["mode"]
            self.rng.setstate(state["rng"])
            self.suggested, self.results = dict(state["suggested"]), dict(state["results"])
            self.sampler, self.study, self.asked = state["sampler"], state["study"], dict(state["asked"])

        def __getstate__(self) -> dict[str, Any]:
            """Pickled with its space's config, not the space (whose compiled expressions do not pickle): the Tuner
            pickles its search algorithm when it starts."""
            state = {key: value for key, value in vars(self).items() if key not in ("space", "draws")}
            state["space_config"] = (self.space.to_config(), self.space.source)
            return state

        def __setstate__(self, state: dict[str, Any]) -> None:
            config, source = state.pop("space_config")
            vars(self).update(state)
            self.space = Space.from_config(config, source)
            self.draws = ValidDraws(self.space)

        def save(self, checkpoint_path: str) -> None:
            """Write the searcher's state (not its space) to ``checkpoint_path``; Ray Tune calls it as it runs."""
            with open(checkpoint_path, "wb") as file:
                pickle.dump(self.get_state(), file)

        def restore(self, checkpoint_path: str) -> None:
            """Continue from a state :meth:`save` wrote, into a searcher built on the same space."""
            with open(checkpoint_path, "rb") as file:
                self.set_state(pickle.load(file))

    ValidSearcher.__qualname__ = "ValidSearcher"  # pickled by reference, found again through the module's __getattr__
    return ValidSearcher


def tune_config(space: Space | str | Path, *, metric: str | None = None, mode: str | None = None, seed: int = 0,
                sampler: Any = None, **options: Any) -> TuneConfig:
    """A ``ray.tune.TuneConfig`` searching ``space`` with a :data:`ValidSearcher`, the metric and mode given to both.

    Parameters
    ----------
    space : Space, or a path to a search-space config
        The search space.
    metric, mode, seed, sampler
        As for :data:`ValidSearcher`.
    **options
        Any other field of ``TuneConfig`` (``num_samples``, ``max_concurrent_trials``, ``scheduler``, ...).

    Raises
    ------
    MissingExtraError
        When Ray Tune is not installed.
    """
    searcher = searcher_class()(space, metric=metric, mode=mode, seed=seed, sampler=sampler)
    from ray import tune

    return tune.TuneConfig(search_alg=searcher, metric=metric, mode=mode, **options)
