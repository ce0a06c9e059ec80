"""SMAC components for tabular lookups, plugged in through the facade's ``intensifier=``, ``config_selector=``,
``model=`` and ``runhistory_encoder=`` arguments (SMAC's own code is never patched); the run history, which no
argument takes, by changing the class of the facade's own instance (``use_lookup_run_history``).

On a table, an evaluation costs microseconds, so SMAC's own bookkeeping is the whole cost of a study. These SMAC
functions grow with the number of trials for no gain when each configuration is evaluated once, deterministically:

- ``smac.intensifier.intensifier.Intensifier.__iter__`` rebuilds the rejected-config list and scans its queue
  with ``Configuration.__eq__`` on every ask (quadratic in trials). With ``max_config_calls=1`` and a
  deterministic scenario it never races anything: each new configuration is run once on the one instance-seed
  key. ``LookupIntensifier`` yields exactly those trials in O(1) per ask (incumbent bookkeeping stays SMAC's).
- ``smac.main.config_selector.ConfigSelector`` checks ``config not in self._processed_configs`` (a list scan
  with ``Configuration.__eq__``) for every challenger, and ``_get_x_best`` predicts the evaluated configurations
  one sklearn call at a time. ``LookupConfigSelector`` keeps a set of encoded vectors and predicts them in one
  batched call; it proposes the same configurations in the same order.
- ``smac.runhistory.runhistory.RunHistory._update_objective_bounds`` rescans every trial of the run history on
  each ``add`` (twice per trial: once running, once finished). ``LookupRunHistory`` updates the bounds with the
  one trial just added (O(1) per add); ``use_lookup_run_history`` installs it on a facade's run history. Its
  ``save`` writes the bytes ``RunHistory.save`` writes, from cached per-trial JSON text.
- ``RunHistoryEncoder._build_matrix`` encodes each trial's configuration in its own numpy call and
  ``AbstractRunHistoryEncoder._get_timeout_trials`` scans all trials (twice per model fit) for timeouts, which a
  lookup never has. ``LookupLogScaledEncoder`` (the HPO facade's encoder, passed as ``runhistory_encoder=``)
  builds the same matrices in one call and skips the scan while ``LookupRunHistory`` counts no timeout.

Configurations are keyed by their encoded vector (``config_key``), never by ``Configuration`` itself:
ConfigSpace's ``Configuration.__hash__`` is ``hash(repr)``, which disagrees with ``__eq__`` under numpy 2
(sampled configurations hold ``np.str_``, configurations built from strings hold ``str``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import sklearn.gaussian_process.kernels as sk_kernels
from ConfigSpace import Configuration
from smac.intensifier.intensifier import Intensifier
from smac.main.config_selector import ConfigSelector
from smac.main.exceptions import ConfigurationSpaceExhaustedException
from smac.model.gaussian_process import GaussianProcess
from smac.model.gaussian_process.kernels import HammingKernel, ProductKernel, SumKernel
from smac.model.random_forest.random_forest import EPMRandomForest, RandomForest
from smac.runhistory import TrialInfo
from smac.runhistory.encoder import RunHistoryLogScaledEncoder
from smac.runhistory.enumerations import StatusType
from smac.runhistory.runhistory import RunHistory
from smac.utils.logging import get_logger
from smac.utils.numpyencoder import NumpyEncoder

from nas_exp.errors import UserError

logger = get_logger(__name__)


def config_key(config: Configuration) -> bytes:
    """A hashable key equal for equal configurations, whatever types their values hold: the encoded vector."""
    return np.asarray(config.get_array(), dtype=np.float64).tobytes()


class LookupRunHistory(RunHistory):
    """SMAC's ``RunHistory`` whose objective bounds are updated incrementally, O(1) per ``add``.

    Replaces ``smac.runhistory.runhistory.RunHistory._update_objective_bounds`` (SMAC 2.4), which ``_add`` calls
    after every stored trial and which rebuilds the per-objective min and max over all successful trials: O(n) per
    add, a third of a 1000-trial SMAC run on NB201. Here the running min and max are kept in two arrays and only
    the trial ``_add`` stores is folded in (``np.minimum``/``np.maximum``, which propagate NaN as ``np.min`` does).
    Where that could differ from a rescan, SMAC's own rescan runs: when a successful trial is overwritten (its
    cost may have been a bound) and whenever the method is called outside ``_add``. ``objective_bounds`` is the
    same list of ``(np.float64, np.float64)`` tuples SMAC's computes, including ``[(inf, -inf)] * n_objectives``
    before the first success."""

    def reset(self) -> None:
        super().reset()
        self._lows: np.ndarray | None = None  # per-objective min / max over successful trials; None: none yet
        self._highs: np.ndarray | None = None
        self._adding: tuple[Any, Any] | None = None  # (previous value, new value) while ``_add`` stores a trial
        self._n_timeouts = 0  # trials whose stored status is TIMEOUT (LookupLogScaledEncoder skips its scan at 0)

    def _add(self, k, v, status) -> None:
        previous = self._data.get(k)
        self._adding = (previous, v)
        try:
            super()._add(k, v, status)
        finally:
            self._adding = None
        self._n_timeouts += int(bool(v.status == StatusType.TIMEOUT)) - int(
            previous is not None and bool(previous.status == StatusType.TIMEOUT))

    def _update_objective_bounds(self) -> None:
        adding = self._adding
        if adding is None or (adding[0] is not None and adding[0].status == StatusType.SUCCESS):
            self._rescan_objective_bounds()
            return
        value = adding[1]
        if value.status == StatusType.SUCCESS:
            costs = value.cost if isinstance(value.cost, Iterable) else [value.cost]
            assert len(costs) == self._n_objectives
            costs = np.array(costs, dtype=float)
            if self._lows is None:
                self._lows, self._highs = costs, costs.copy()
            else:
                self._lows, self._highs = np.minimum(self._lows, costs), np.maximum(self._highs, costs)
        if self._lows is None:
            self._objective_bounds = [(np.inf, -np.inf)] * self._n_objectives
        else:
            self._objective_bounds = list(zip(self._lows, self._highs))

    def save(self, filename: str | Path = "runhistory.json") -> None:
        """The file ``smac.runhistory.runhistory.RunHistory.save`` (SMAC 2.4) writes, byte for byte, built from
        cached text.

        SMAC's save ``json.dump``s every trial and configuration with ``indent=2``, which runs json's pure-Python
        encoder: O(n) Python work per save, 25 ms at 1000 trials. Each trial's entry (and each configuration's
        values) is encoded here once, with the same encoder and settings, and re-indented to its depth in the
        file; the layout around them is json's for ``indent=2``. A cached entry is reused while the run history
        holds the same ``TrialValue`` object for its key (SMAC replaces it, never changes it, when a running trial
        finishes). ``tests/test_smac_components.py`` compares the bytes with SMAC's own save."""
        if not hasattr(self, "_saved_text"):
            self._saved_text: dict[Any, tuple[Any, str]] = {}  # trial key -> (its TrialValue, its entry's text)
            self._saved_configs: dict[int, tuple[Any, str]] = {}  # config id -> (its Configuration, its text)

        def text(obj: Any, depth: int) -> str:
            return json.dumps(obj, indent=2, cls=NumpyEncoder).replace("\n", "\n" + "  " * depth)

        def block(items: list[str], open_: str, close: str) -> str:  # json's layout of a non-empty list / dict
            return open_ + "\n" + ",\n".join("    " + item for item in items) + "\n  " + close if items else \
                open_ + close

        entries = []
        for k, v in self._data.items():
            cached = self._saved_text.get(k)
            if cached is None or cached[0] is not v:
                entry = {
                    "config_id": int(k.config_id),
                    "instance": str(k.instance) if k.instance is not None else None,
                    "seed": int(k.seed) if k.seed is not None else None,
                    "budget": float(k.budget) if k.budget is not None else None,
                    "cost": v.cost, "time": v.time, "cpu_time": v.cpu_time, "status": v.status,
                    "starttime": v.starttime, "endtime": v.endtime, "additional_info": v.additional_info,
                }
                cached = self._saved_text[k] = (v, text(entry, 2))
            entries.append(cached[1])
        config_ids_to_serialize = {k.config_id for k in self._data}
        configs, origins = [], []
        for id_, config in self._ids_config.items():
            if id_ in config_ids_to_serialize:
                cached = self._saved_configs.get(id_)
                if cached is None or cached[0] is not config:
                    cached = self._saved_configs[id_] = (config, text(dict(config), 2))
                configs.append(f"{json.dumps(str(id_))}: {cached[1]}")
            origins.append(f"{json.dumps(str(id_))}: {json.dumps(config.origin, cls=NumpyEncoder)}")
        if isinstance(filename, str):
            filename = Path(filename)
        assert str(filename).endswith(".json")
        filename.parent.mkdir(parents=True, exist_ok=True)
        assert self._running == len(self._running_trials)
        stats = {"submitted": self._submitted, "finished": self._finished, "running": self._running}
        parts = [("stats", text(stats, 1)), ("data", block(entries, "[", "]")), ("configs", block(configs, "{", "}")),
                 ("config_origins", block(origins, "{", "}"))]
        with open(filename, "w") as fp:
            fp.write("{\n" + ",\n".join(f"  {json.dumps(key)}: {value}" for key, value in parts) + "\n}")

    def _rescan_objective_bounds(self) -> None:
        """SMAC's own full rescan, and the running min/max set from its result."""
        RunHistory._update_objective_bounds(self)
        self._sync_bounds()

    def _sync_bounds(self) -> None:
        successes = [value.cost for value in self._data.values() if value.status == StatusType.SUCCESS]
        if not successes:
            self._lows = self._highs = None
            return
        self._lows = np.array([low for low, _ in self._objective_bounds], dtype=float)
        self._highs = np.array([high for _, high in self._objective_bounds], dtype=float)


def use_lookup_run_history(facade: Any) -> LookupRunHistory:
    """Make ``facade``'s run history a ``LookupRunHistory``, in place, and return it.

    A SMAC 2.4 facade builds its ``RunHistory`` inside ``AbstractFacade.__init__`` (no argument or factory method
    takes one) and hands that one object to the SMBO loop, the intensifier, the config selector and the run-history
    encoder before ``__init__`` returns. Replacing the object afterwards would mean re-wiring each of them;
    changing the class of the one shared instance keeps every reference valid. ``LookupRunHistory`` adds no data
    of its own beyond the running bounds, which are set here from what the run history already holds (nothing,
    right after the facade is built with ``overwrite=True``)."""
    runhistory = facade.runhistory
    if type(runhistory) is not RunHistory:
        if isinstance(runhistory, LookupRunHistory):
            return runhistory
        raise TypeError(f"expected SMAC's RunHistory, got {type(runhistory).__name__}")
    runhistory.__class__ = LookupRunHistory
    runhistory._adding = None
    runhistory._n_timeouts = sum(value.status == StatusType.TIMEOUT for value in runhistory._data.values())
    runhistory._lows = runhistory._highs = None
    if len(runhistory):  # the empty history keeps SMAC's initial [] bounds, as before any add
        runhistory._rescan_objective_bounds()
    return runhistory


class LookupLogScaledEncoder(RunHistoryLogScaledEncoder):
    """SMAC's ``RunHistoryLogScaledEncoder`` (the HPO facade's) building the same X and y with less Python.

    ``_build_matrix`` replaces ``smac.runhistory.encoder.encoder.RunHistoryEncoder._build_matrix`` (SMAC 2.4) for
    one objective and no instance features: the rows are the configurations' ``get_array()`` vectors (what
    ``convert_configurations_to_array`` returns, one call per row there) and y the costs, stacked in one call each;
    the statistics and the log scaling are SMAC's. Otherwise it is SMAC's own. ``_get_timeout_trials`` returns
    ``{}`` at once when the run history is a ``LookupRunHistory`` holding no TIMEOUT trial, instead of scanning
    every trial for one."""

    def _get_timeout_trials(self, budget_subset: list | None = None) -> dict:
        if isinstance(self.runhistory, LookupRunHistory) and self.runhistory._n_timeouts == 0:
            return {}
        return super()._get_timeout_trials(budget_subset)

    def _build_matrix(self, trials, store_statistics: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if self._n_objectives > 1 or self._n_features > 0:
            return super()._build_matrix(trials, store_statistics=store_statistics)
        configs = self.runhistory._ids_config
        X = np.array([configs[key.config_id].get_array() for key in trials], dtype=np.float64)
        X = X.reshape(len(trials), self._n_params)
        y = np.array([run.cost for run in trials.values()], dtype=np.float64).reshape(len(trials), 1)
        if y.size > 0 and store_statistics:
            self._percentile = np.percentile(y, self._scale_percentage, axis=0)
            self._min_y = np.min(y, axis=0)
            self._max_y = np.max(y, axis=0)
        return X, self.transform_response_values(values=y)


def runhistory_encoder(facade: Any, scenario: Any) -> Any:
    """``LookupLogScaledEncoder`` where the facade's own encoder is SMAC's ``RunHistoryLogScaledEncoder`` with
    the same settings (its ``meta`` but the name); otherwise the facade's own."""
    default = facade.get_runhistory_encoder(scenario)
    if type(default) is not RunHistoryLogScaledEncoder:
        return default
    ours = LookupLogScaledEncoder(scenario, considered_states=default._considered_states,
                                  lower_budget_states=default._lower_budget_states,
                                  scale_percentage=default._scale_percentage, seed=default._seed)
    if {**ours.meta, "name": None} != {**default.meta, "name": None}:
        return default
    return ours


class LookupIntensifier(Intensifier):
    """SMAC's ``Intensifier`` for deterministic, single-evaluation lookups, O(1) per ask.

    Replaces ``Intensifier.__iter__``: with ``max_config_calls=1`` and a deterministic scenario SMAC's loop yields,
    for each configuration the config selector proposes, one trial on the single instance-seed key, and skips a
    configuration already evaluated or running; this does the same without its per-ask scans. Incumbents, the
    rejected list and SMAC's trajectory are still kept by ``AbstractIntensifier.update_incumbents``."""

    def __init__(self, scenario, retries: int = 16, seed: int | None = None, max_incumbents: int = 10) -> None:
        if not scenario.deterministic:
            raise UserError("the lookup intensifier needs a deterministic scenario (one evaluation per configuration)")
        super().__init__(scenario, max_config_calls=1, max_incumbents=max_incumbents, retries=retries, seed=seed)

    def reset(self) -> None:
        super().reset()
        self._asked: set[bytes] = set()

    def __iter__(self) -> Iterator[TrialInfo]:
        self.__post_init__()
        self._asked.update(config_key(config) for config in self.runhistory.get_configs())
        (key,) = self.get_instance_seed_keys_of_interest()  # deterministic: one seed, as SMAC's loop uses
        fails = 0
        while fails <= self._retries:
            try:
                config = next(self.config_generator)
            except StopIteration:
                logger.warning("The config selector found no new configuration; the space may be exhausted.")
                return
            identity = config_key(config)
            if identity in self._asked:  # evaluated or running: SMAC's loop yields no trial for it
                fails += 1
                continue
            fails = 0
            self._asked.add(identity)
            yield TrialInfo(config=config, instance=key.instance, seed=key.seed)
        logger.error("Intensifier could not find any new trials.")


class LookupConfigSelector(ConfigSelector):
    """SMAC's ``ConfigSelector`` with set membership instead of list scans and a batched incumbent prediction.

    ``__iter__`` follows ``smac.main.config_selector.ConfigSelector.__iter__`` (SMAC 2.4) step by step; only the
    ``config not in self._processed_configs`` tests use a set of encoded vectors. ``_get_x_best`` replaces
    ``ConfigSelector._get_x_best``: one ``predict_marginalized`` over all evaluated configurations instead of one
    call per configuration; the first lowest prediction wins, as the stable sort there picks it."""

    def _is_new(self, config: Configuration) -> bool:
        return config_key(config) not in self._processed_keys

    def _mark(self, config: Configuration) -> None:
        self._processed_configs.append(config)
        self._processed_keys.add(config_key(config))

    def __iter__(self) -> Iterator[Configuration]:
        assert self._runhistory is not None and self._runhistory_encoder is not None
        assert self._model is not None and self._acquisition_maximizer is not None
        assert self._acquisition_function is not None and self._random_design is not None

        self._processed_configs = self._runhistory.get_configs()
        self._processed_keys = {config_key(config) for config in self._processed_configs}
        self._max_new_config_tries += len(self._processed_configs)
        self._call_callbacks_on_start()

        for config in self._initial_design_configs:
            if self._is_new(config):
                self._mark(config)
                self._call_callbacks_on_end(config)
                yield config
                self._call_callbacks_on_start()

        while True:
            if (mo := self._runhistory_encoder.multi_objective_algorithm) is not None:
                mo.update_on_iteration_start()

            X, Y, X_configurations = self._collect_data()
            previous_configs = self._runhistory.get_configs()

            if X.shape[0] == 0:  # no data yet: one random configuration (SMAC's behaviour)
                config = self._scenario.configspace.sample_configuration()
                self._call_callbacks_on_end(config)
                yield config
                self._call_callbacks_on_start()
                continue

            if self._previous_entries != Y.shape[0]:
                self._model.train(X, Y)
                x_best_array, best_observation = self._get_x_best(X_configurations)
                self._acquisition_function.update(
                    model=self._model,
                    eta=best_observation,
                    incumbent_array=x_best_array,
                    num_data=len(self._get_evaluated_configs()),
                    X=X_configurations,
                )
            self._previous_entries = Y.shape[0]

            challengers = self._acquisition_maximizer.maximize(previous_configs, random_design=self._random_design)

            retrain = False
            counter = 0
            failed_counter = 0
            for config in challengers:
                if self._is_new(config):
                    counter += 1
                    self._mark(config)
                    self._call_callbacks_on_end(config)
                    yield config
                    retrain = counter == self._retrain_after
                    self._call_callbacks_on_start()
                    if retrain:
                        break
                else:
                    failed_counter += 1
                    if failed_counter == self._max_new_config_tries:
                        logger.warning(f"Could not return a new configuration after {failed_counter} retries.")
                        break

            if not retrain:
                logger.warning("Did not find enough configurations from the acquisition function. Sampling random "
                               "configurations.")
                random_configs_retries = 0
                while counter < self._retrain_after and random_configs_retries < self._max_new_config_tries:
                    config = self._scenario.configspace.sample_configuration()
                    if self._is_new(config):
                        counter += 1
                        config.origin = "Random Search (max retries, no candidates)"
                        self._mark(config)
                        self._call_callbacks_on_end(config)
                        yield config
                        retrain = counter == self._retrain_after
                        self._call_callbacks_on_start()
                    else:
                        random_configs_retries += 1
                    if random_configs_retries == self._max_new_config_tries:
                        config = self._unproposed()
                        if config is None:
                            logger.warning(f"Could not return a new configuration after {random_configs_retries} "
                                           "retries.")
                            raise ConfigurationSpaceExhaustedException()
                        counter += 1  # random draws missed the few left (tiny_cell's last ones): take one
                        random_configs_retries = 0
                        self._mark(config)
                        self._call_callbacks_on_end(config)
                        yield config
                        retrain = counter == self._retrain_after
                        self._call_callbacks_on_start()

    def _unproposed(self) -> Configuration | None:
        """Where SMAC's random retries found nothing new and would declare the space exhausted: on a space that
        can be enumerated, one configuration not proposed yet, drawn with the space's random state (None if every
        one was proposed, or the space cannot be enumerated). On a small space random draws miss the last few
        configurations (tiny_cell: 18, of which SMAC tries 16 + proposed ones), so SMAC would stop the search
        with configurations left; SMAC's own choices are unchanged wherever it finds one."""
        from nas_exp.optimizers.exhaustive_acquisition import encoded_grid, enumeration_problem

        configspace = self._scenario.configspace
        if enumeration_problem(configspace) is not None:
            return None
        rows = encoded_grid(configspace)
        left = [row for row in rows if row.tobytes() not in self._processed_keys]
        if not left:
            return None
        config = Configuration(configspace, vector=left[int(configspace.random.randint(len(left)))])
        config.origin = "Random Search (not proposed yet, after max retries)"
        return config

    def _get_x_best(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        assert self._model is not None
        means, _ = self._model.predict_marginalized(X)
        best = int(np.argmin(means[:, 0]))  # first minimum, as SMAC's stable sort of (cost, x) pairs
        return X[best], means[best, 0]


class ScheduledGaussianProcess(GaussianProcess):
    """SMAC's ``GaussianProcess`` whose kernel hyperparameters are re-optimized on a schedule, not on every fit.

    ``GaussianProcess._train`` maximizes the marginal likelihood (10 L-BFGS restarts) every time the model is
    trained, and the black-box facade trains it on every ask: that optimization is most of smac_bb's cost. Here
    the first ``warmup`` fits optimize as SMAC does; after that the hyperparameters are re-optimized once the data
    has grown by ``growth`` (a fraction) since the last optimization, and in between the GP is refit on all data
    with the last optimized hyperparameters (exact posterior, only the kernel's length scales are kept).
    ``growth=0`` optimizes on every fit (SMAC's behaviour)."""

    def __init__(self, *args, warmup: int = 20, growth: float = 0.25, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if warmup < 0 or growth < 0:
            raise UserError(f"the GP schedule needs warmup >= 0 and growth >= 0, got {warmup!r} and {growth!r}")
        self._warmup, self._growth = warmup, growth
        self._optimized_at: int | None = None

    def due(self, n: int) -> bool:
        """Whether a fit on ``n`` data points re-optimizes the kernel hyperparameters."""
        if self._growth == 0 or n <= self._warmup or self._optimized_at is None:
            return True
        return n >= self._optimized_at * (1 + self._growth)

    def _train(self, X: np.ndarray, y: np.ndarray, optimize_hyperparameters: bool = True):
        optimize = optimize_hyperparameters and self.due(X.shape[0])
        if optimize:
            self._optimized_at = X.shape[0]
        return super()._train(X, y, optimize_hyperparameters=optimize)


class LookupHammingKernel(HammingKernel):
    """SMAC's ``HammingKernel`` with its kernel matrix summed one dimension at a time: same floats, about a fifth
    of the time on the exhaustive maximizer's 15,625 x n matrices.

    ``HammingKernel._call`` builds an (n, m, d) float array of ``-1 / (2 l**2) * [x != y]`` and sums its last
    axis; here each dimension adds an (n, m) matrix to the running sum, in the same order (numpy sums fewer than
    8 values in order), so the result is the same floats without the (n, m, d) temporaries. With 8 or more
    dimensions (numpy then sums pairwise) and for gradients (the n x n training matrices, small) it is SMAC's
    own ``_call``."""

    def _call(self, X: np.ndarray, Y: np.ndarray | None = None, eval_gradient: bool = False,
              active: np.ndarray | None = None):
        X = np.atleast_2d(X)
        if eval_gradient or X.shape[1] >= 8:
            return super()._call(X, Y, eval_gradient=eval_gradient, active=active)
        length_scale = sk_kernels._check_length_scale(X, self.length_scale)
        Y = X if Y is None else np.atleast_2d(Y)
        weights = np.broadcast_to(-1 / (2 * np.asarray(length_scale, dtype=np.float64) ** 2), (X.shape[1],))
        K = np.zeros((X.shape[0], Y.shape[0]))
        for d in range(X.shape[1]):
            K += np.where(X[:, d, None] != Y[None, :, d], weights[d], 0.0)
        K = np.exp(K, out=K)
        if active is not None:
            K = K * active
        return K


def with_lookup_hamming(kernel: sk_kernels.Kernel) -> sk_kernels.Kernel:
    """``kernel`` (e.g. ``BlackBoxFacade.get_kernel``'s sum/product of SMAC kernels) with each ``HammingKernel``
    replaced by a ``LookupHammingKernel`` of the same parameters (length scales, bounds, dimensions, prior)."""
    if type(kernel) is HammingKernel:
        return LookupHammingKernel(**kernel.get_params(deep=False))
    if isinstance(kernel, (SumKernel, ProductKernel)):
        params = kernel.get_params(deep=False)
        params.update(k1=with_lookup_hamming(kernel.k1), k2=with_lookup_hamming(kernel.k2))
        return type(kernel)(**params)
    return kernel


def leaf_log_means(leaves: np.ndarray, y: np.ndarray) -> dict[int, float]:
    """``log(mean(exp(y)))`` of the samples in each leaf, the same floats as SMAC's per-leaf
    ``np.log(np.exp(curY[preds == k]).mean())``, computed for all leaves at once.

    numpy sums fewer than 8 values in order, ``((0 + v0) + v1) + ...`` (8 or more: pairwise); that order is
    reproduced over the leaves sorted stably, and leaves of 8 or more samples (rare: a fully grown tree's leaf
    holds repeats of one configuration) take numpy's own mean."""
    values = np.exp(y)
    order = np.argsort(leaves, kind="stable")
    ids, starts, counts = np.unique(leaves[order], return_index=True, return_counts=True)
    sorted_values = values[order]
    totals = np.zeros(len(ids))
    for j in range(7):
        has = counts > j
        totals[has] += sorted_values[starts[has] + j]
    means = totals / counts
    for i in np.flatnonzero(counts >= 8):
        means[i] = values[leaves == ids[i]].mean()
    return dict(zip(ids.tolist(), np.log(means).tolist()))


class LogLeafForest(EPMRandomForest):
    """SMAC's ``EPMRandomForest`` whose log-scale leaf values are computed per tree in one pass
    (``leaf_log_means``) instead of one numpy call per leaf (``EPMRandomForest.fit``'s loop): same trees, same
    values, about a fifth of a 500-trial SMAC run on NB201 less."""

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight=None) -> None:  # type: ignore[override]
        if not self.log_y:
            return super().fit(X, y, sample_weight=sample_weight)
        self.log_y = False  # fit the trees as SMAC does, then set the leaf values here
        try:
            super().fit(X, y, sample_weight=sample_weight)
        finally:
            self.log_y = True
        for tree, samples in zip(self.estimators_, self.estimators_samples_):
            leaves = tree.apply(X[samples])
            value = tree.tree_.value
            for leaf, log_mean in leaf_log_means(leaves, y[samples]).items():
                value[leaf, 0, 0] = log_mean


class LookupRandomForest(RandomForest):
    """SMAC's ``RandomForest`` (the HPO facade's model) training a ``LogLeafForest`` (replaces
    ``RandomForest._train``'s ``EPMRandomForest``).

    ``max_points``: once there are more trials than this, each fit trains on ``max_points`` of them drawn without
    replacement (a fresh draw per fit, from the model's seeded generator), so a fit costs the same at 1000 trials
    as at ``max_points``. Up to ``max_points`` trials the forest is SMAC's, tree for tree; ``None``: always SMAC's.
    (scikit-learn's ``max_samples`` would not do it: its bootstrap keeps every row, with zero weights.)"""

    def __init__(self, *args: Any, max_points: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_points = max_points

    def _train(self, X: np.ndarray, y: np.ndarray) -> RandomForest:
        X = self._impute_inactive(X)
        y = y.flatten()
        if self.max_points is not None and X.shape[0] > self.max_points:
            rows = np.sort(self._rng.choice(X.shape[0], size=self.max_points, replace=False))
            X, y = X[rows], y[rows]
        self._rf = LogLeafForest(**self._rf_opts)
        self._rf.fit(X, y)
        return self
