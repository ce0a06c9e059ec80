"""The one-shot search loop: epochs of supernet (and architecture) training; after each, the discretized cell and
its one-shot validation accuracy are reported; the last epoch (or an early stop) reports the final cell."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from nas_exp.errors import UserError
from nas_exp.one_shot.batches import SearchBatches
from nas_exp.one_shot.records import EpochRecord, SearchOutcome
from nas_exp.one_shot.selection import Retrain

if TYPE_CHECKING:
    from nas_exp.one_shot.base import OneShotOptimizer


def run_search_loop(method: OneShotOptimizer, batches: SearchBatches,
                    on_epoch: Callable[[EpochRecord], None] | None, retrain: Retrain | None,
                    clock: Callable[[], float]) -> SearchOutcome:
    s = method.settings
    if s.retrain_top_k > 0 and retrain is None:
        raise UserError("optimizer.retrain_top_k > 0 needs a train-mode evaluator (evaluation=train)")
    if method.net is None:
        method.setup(batches.num_classes, batches.in_channels, batches.device)
    valid = batches.eval_valid(s.eval_batches)
    start = clock()
    records: list[EpochRecord] = []
    for epoch in range(s.epochs):
        began = clock()
        method.begin_epoch(epoch)
        loss = method.train_epoch(batches, epoch)
        method.end_epoch()
        train_seconds = clock() - began
        current = method.current_arch(batches)
        eigenvalue, stop = method.after_epoch(batches, epoch, current)
        last = stop is not None or epoch == s.epochs - 1
        arch = method.finalize(batches, retrain) if last else current
        record = EpochRecord(epoch=epoch + 1, arch=arch, oneshot_valid_acc=method.score(arch, valid, batches),
                             train_loss=loss, train_seconds=train_seconds, wall_time=clock() - start,
                             hessian_eigenvalue=eigenvalue)
        records.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if last:
            reason = stop or f"all {s.epochs} search epochs done"
            return SearchOutcome(arch, epoch + 1, reason, tuple(method.candidates), tuple(records))
    raise AssertionError("unreachable: the last epoch returns")
