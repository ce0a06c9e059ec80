"""An ensemble of small MLP regressors predicting a loss from features, trained together as one batched network
in PyTorch (the ``train`` extra): BANANAS' predictor (White et al. 2021: 5 feed-forward networks, their spread is
the uncertainty). Members differ by their seeded initialisation; each is trained full-batch with Adam on the
standardised losses. Training runs on one CPU thread, so the predictions do not depend on the machine's thread
count (the run's trajectory must not)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nas_exp.errors import import_optional
from nas_exp.torch_threads import one_torch_thread


def import_torch(who: str) -> Any:
    return import_optional("torch", who, "PyTorch for its predictor: pip install 'nas-exp[train]' "
                                         "(or pip install torch)")


class MLPEnsemble:
    def __init__(self, n_members: int = 5, hidden: tuple[int, ...] = (32, 32, 32), epochs: int = 200,
                 learning_rate: float = 0.01, seed: int = 0, who: str = "the predictor") -> None:
        self.n_members, self.hidden, self.epochs, self.learning_rate = n_members, hidden, epochs, learning_rate
        self.seed = seed
        self._torch = import_torch(who)
        self._fits = 0
        self._layers: list[tuple[Any, Any]] = []
        self._shift, self._scale = 0.0, 1.0

    def _forward(self, x: Any) -> Any:
        torch = self._torch
        for i, (weight, bias) in enumerate(self._layers):
            x = torch.baddbmm(bias, x, weight)
            if i < len(self._layers) - 1:
                x = torch.relu(x)
        return x.squeeze(-1)  # (members, rows)

    def fit(self, features: np.ndarray, losses: np.ndarray) -> None:
        torch = self._torch
        self._shift = float(np.mean(losses))
        self._scale = float(np.std(losses)) or 1.0
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self._fits)
        self._fits += 1
        sizes = [features.shape[1], *self.hidden, 1]
        with one_torch_thread():
            self._layers = []
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
                bound = 1.0 / fan_in ** 0.5  # PyTorch's nn.Linear initialisation
                weight = (torch.rand(self.n_members, fan_in, fan_out, generator=generator) * 2 - 1) * bound
                bias = (torch.rand(self.n_members, 1, fan_out, generator=generator) * 2 - 1) * bound
                self._layers.append((weight.requires_grad_(), bias.requires_grad_()))
            x = torch.as_tensor(features, dtype=torch.float32).expand(self.n_members, -1, -1)
            y = torch.as_tensor((np.asarray(losses) - self._shift) / self._scale, dtype=torch.float32)
            optimizer = torch.optim.Adam([p for layer in self._layers for p in layer], lr=self.learning_rate,
                                         foreach=True)
            for _ in range(self.epochs):
                optimizer.zero_grad()
                loss = ((self._forward(x) - y) ** 2).mean()
                loss.backward()
                optimizer.step()

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predicted losses, one row per member: shape (n_members, n_candidates)."""
        torch = self._torch
        with one_torch_thread(), torch.no_grad():
            x = torch.as_tensor(features, dtype=torch.float32).expand(self.n_members, -1, -1)
            return self._forward(x).double().numpy() * self._scale + self._shift
