"""``one_torch_thread``: torch on one CPU thread inside a block, the caller's thread count restored after;
``set_torch_threads``: the process's thread count (``evaluation.threads``).

Small networks gain nothing from more threads and lose a lot on a busy machine; one thread also keeps results
independent of the machine's thread count (a predictor's proposals, a proxy's score). torch is imported when the
block starts, so importing this module costs nothing where torch is not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nas_exp.errors import UserError


def set_torch_threads(threads: int | None, key: str = "evaluation.threads") -> None:
    """torch's intra-op CPU threads for this process (None: torch's default, one per core, left alone). On a busy
    machine small networks train many times faster on one thread than on threads that wait for each other."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise UserError(f"{key} must be an int >= 1 (torch's CPU threads) or null (torch's default), got {threads!r}")
    import torch

    torch.set_num_threads(threads)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
