"""``one_torch_thread``: torch on one CPU thread inside a block, the caller's thread count restored after.

Small networks gain nothing from more threads and lose a lot on a busy machine; one thread also keeps results
independent of the machine's thread count (a predictor's proposals, a proxy's score). torch is imported when the
block starts, so importing this module costs nothing where torch is not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
