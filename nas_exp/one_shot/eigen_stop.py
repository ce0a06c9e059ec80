"""RobustDARTS' early stopping (Zela et al., ICLR 2020, DARTS-ES): stop when the dominant Hessian eigenvalue of the
validation loss w.r.t. the architecture grows too fast, and return the cell of ``window`` epochs earlier."""

from __future__ import annotations

from dataclasses import dataclass, field

from nas_exp.checks import require_int
from nas_exp.errors import UserError
from nas_exp.one_shot.records import Cell


@dataclass
class EigenvalueStopper:
    """Eigenvalues are smoothed by a running mean over the last ``window`` epochs; at epoch i >= ``window`` the
    search stops when smoothed(i) / smoothed(i - window) > ``factor`` (RobustDARTS: window 5, ratio 1/0.75)."""

    window: int = 5
    factor: float = 1 / 0.75  # RobustDARTS: stop when the eigenvalue ratio drops below 0.75, i.e. grows > 1.33x
    eigenvalues: list[float] = field(default_factory=list)
    archs: list[Cell] = field(default_factory=list)
    stopped_at: int | None = None  # 0-based epoch

    def __post_init__(self) -> None:
        require_int(self.window, "hessian_window")
        if not self.factor > 1:
            raise UserError(f"hessian_factor must be > 1, got {self.factor!r}")

    def smoothed(self, epoch: int) -> float:
        values = self.eigenvalues[max(0, epoch - self.window + 1):epoch + 1]
        return sum(values) / len(values)

    def update(self, eigenvalue: float, arch: Cell) -> str | None:
        """Record this epoch; the stop reason when the search should stop now, else None."""
        if self.stopped_at is not None:
            raise RuntimeError(f"the search stopped at epoch {self.stopped_at + 1} already")
        self.eigenvalues.append(float(eigenvalue))
        self.archs.append(arch)
        epoch = len(self.eigenvalues) - 1
        if epoch < self.window:
            return None
        before, now = self.smoothed(epoch - self.window), self.smoothed(epoch)
        if before > 0 and now / before > self.factor:
            self.stopped_at = epoch
            return (f"early stop: the dominant Hessian eigenvalue grew {now / before:.2f}x (> {self.factor}) over "
                    f"{self.window} epochs; keeping the cell of epoch {epoch - self.window + 1}")
        return None

    @property
    def fallback(self) -> Cell | None:
        """The cell to return after a stop: the one of ``window`` epochs before it."""
        return None if self.stopped_at is None else self.archs[self.stopped_at - self.window]
