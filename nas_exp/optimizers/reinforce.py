"""REINFORCE (Williams 1992) as used in NB201: an independent softmax policy over each categorical
hyperparameter, trained by policy gradient with Adam on the reward (validation accuracy) minus a moving-average
baseline."""

from __future__ import annotations

import numpy as np
from ConfigSpace import Configuration

from nas_exp.errors import UserError

MAX_DRAWS = 1000
from nas_exp.optimizers.base import Optimizer, Trial
from nas_exp.optimizers.config_moves import allowed, finite_choices


class Reinforce(Optimizer):
    """Each trial samples one value per hyperparameter from softmax(logits). ``tell`` takes the reward
    ``1 - loss / 100`` (accuracy as a fraction), updates the baseline ``b <- m * b + (1 - m) * reward`` and takes
    one Adam step on ``-(reward - b) * log p(config)``."""

    name = "reinforce"

    def __init__(self, *args, learning_rate: float = 0.01, baseline_momentum: float = 0.9,
                 adam_betas: tuple[float, float] = (0.9, 0.999), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not learning_rate > 0:
            raise UserError(f"optimizer.learning_rate must be > 0, got {learning_rate!r}")
        if not 0 <= baseline_momentum < 1:
            raise UserError(f"optimizer.baseline_momentum must be in [0, 1), got {baseline_momentum!r}")
        self.hyperparameters = list(self.configspace.values())
        for hp in self.hyperparameters:
            if finite_choices(hp) is None:
                raise UserError(f"REINFORCE needs categorical (or ordinal) hyperparameters; {hp.name!r} is "
                                f"{type(hp).__name__}: use another optimizer for this space")
        if self.configspace.conditions:
            raise UserError("REINFORCE samples each hyperparameter independently and cannot respect this space's "
                            "conditions: use another optimizer (e.g. rea, smac)")
        self._choices = [finite_choices(hp) for hp in self.hyperparameters]
        self.learning_rate, self.momentum = learning_rate, baseline_momentum
        self.beta1, self.beta2 = adam_betas
        self._rng = np.random.default_rng(self.seed)
        self.logits = [np.zeros(len(choices)) for choices in self._choices]
        self._m = [np.zeros_like(x) for x in self.logits]
        self._v = [np.zeros_like(x) for x in self.logits]
        self._steps = 0
        self.baseline: float | None = None

    def probabilities(self) -> list[np.ndarray]:
        return [np.exp(x - x.max()) / np.exp(x - x.max()).sum() for x in self.logits]

    def ask(self) -> Trial:
        """One configuration from the policy; a forbidden one (e.g. NAS-Bench-Graph's all-skip cell) is drawn
        again (rejection sampling: the policy restricted to the allowed configurations)."""
        for _ in range(MAX_DRAWS):
            choices = [int(self._rng.choice(len(p), p=p)) for p in self.probabilities()]
            values = {hp.name: options[i] for hp, options, i in zip(self.hyperparameters, self._choices, choices)}
            config = Configuration(self.configspace, values=values)
            if not self.configspace.forbidden_clauses or allowed(config):
                return Trial(config=config, handle=choices)
        raise RuntimeError(f"REINFORCE drew {MAX_DRAWS} forbidden configurations in a row")

    def most_likely(self) -> Configuration:
        """The policy's argmax configuration. The run's result is the best configuration seen, as NB201's
        REINFORCE (AutoDL-Projects, ``exps/algos/reinforce.py``) has reported since its first release; this is
        for inspecting the policy."""
        values = {hp.name: options[int(np.argmax(x))]
                  for hp, options, x in zip(self.hyperparameters, self._choices, self.logits)}
        return Configuration(self.configspace, values=values)

    def tell(self, trial: Trial, loss: float, cost: float) -> None:
        reward = 1.0 - loss / 100.0
        self.baseline = reward if self.baseline is None else (
            self.momentum * self.baseline + (1 - self.momentum) * reward)
        advantage = reward - self.baseline
        self._steps += 1
        for k, (choice, p) in enumerate(zip(trial.handle, self.probabilities())):
            grad_log_p = -p
            grad_log_p[choice] += 1.0
            grad = -advantage * grad_log_p  # gradient of the loss to minimise
            self._m[k] = self.beta1 * self._m[k] + (1 - self.beta1) * grad
            self._v[k] = self.beta2 * self._v[k] + (1 - self.beta2) * grad**2
            m_hat = self._m[k] / (1 - self.beta1**self._steps)
            v_hat = self._v[k] / (1 - self.beta2**self._steps)
            self.logits[k] = self.logits[k] - self.learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)
