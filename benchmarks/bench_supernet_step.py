"""DARTS supernet weight step vs the plain NB201 network, on the CPU: ms per step, their ratio, old vs new ops,
channels_last, and the peak RSS of a short full-size DARTS search.

Run: `python benchmarks/bench_supernet_step.py [--rounds 7] [--threads 1] [--sizes 16x5,8x1] [--clock cpu] [--rss]`
Quick run: `python benchmarks/bench_supernet_step.py --sizes 8x1 --rounds 3`.
Against an older checkout (same table, its code): `PYTHONPATH=/path/to/old python benchmarks/bench_supernet_step.py`
(an old checkout has no ``AvgPool3x3`` and no shared ReLU, so its "new" rows are the old code).

A weight step is forward + backward + SGD step (momentum 0.9, weight decay 3e-4) in train mode, batch 64 of random
32x32x3 images, 10 classes, under fixed detached softmax weights (DARTS' weight step). Nets, built side by side in
one process and timed interleaved (one step of each per round, median over rounds, so a noisy machine hits all
alike; use the ratios, not the absolute times). ``--clock cpu`` (default) times the process' CPU time
(``time.process_time``; one torch thread): on a box shared with other jobs it leaves out the time spent waiting for a
core, which wall time (``--clock wall``) does not:

* plain: ``NB201Network`` with the all-nor_conv_3x3 cell (the largest network of the space) at the same C, N;
* supernet: the NB201 supernet as it is now (``SearchCell.mixed_by_source``: node by node, shared ReLU and pool sum
  per node, alpha as the BN's affine weight, in-place node sums);
* supernet, edge by edge: the same net with ``SearchCell.by_source = False``: each edge's ``MixedOp.mixed`` (the
  code before ``mixed_by_source``);
* supernet, old ops: the same net with the ops as they were before this benchmark existed (torch's CPU
  ``AvgPool2d(3, 1, 1, count_include_pad=False)``, a ReLU per conv candidate, the running sum of ``w_k * op_k(x)``):
  edge by edge; the first baseline, and a check that all compute the same loss;
* ``+ channels_last``: the same nets and inputs in channels_last memory format (the project's layout on CUDA only:
  on the CPU its fp32 BatchNorm backward is much less accurate, see docs/train_mode.md);
* ``+ compile`` (``--compile``): those wrapped in ``torch.compile`` (default mode: Inductor's C++ kernels); the
  "first s" column is then mostly the compile time.

``--rss`` also runs a 3-step full-size (C=16, N=5, batch 64) first-order DARTS search epoch in a fresh child process
per code variant and reports its peak resident set size (VmHWM): the old ops, edge by edge, and the current code.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table
from torch import nn

from nas_exp.models.network import NB201Network
from nas_exp.one_shot.mixed_op import MixedOp
from nas_exp.one_shot.supernet import SearchCell, build_supernet
from nas_exp.search_spaces.nb201 import OPS, Arch, NB201Space

console = Console(width=160)  # not a terminal (a pipe, a log): wide enough for the tables
WARMUP: dict[str, float] = {}  # seconds of each net's first step (with --compile: mostly compilation)
NB201_LAYOUT = NB201Space().supernet_layout()
ALL_CONV3 = Arch(("nor_conv_3x3",) * 6)


# -- the old ops (before this benchmark), for side-by-side timing ----------------------------------------------------
def _old_mixed(self: MixedOp, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """MixedOp.mixed as it was: every candidate on its own (a ReLU per conv), a running sum of ``w_k * op_k``."""
    total: torch.Tensor | None = None
    for k, name in enumerate(OPS):
        if name == "none":
            continue
        term = weights[k] * self.run(k, x)
        total = term if total is None else total + term
    return torch.zeros_like(x) if total is None else total


class _OldMixedOp(MixedOp):
    mixed = _old_mixed


def edge_by_edge(net: nn.Module) -> nn.Module:
    """Each search cell edge by edge (``MixedOp.mixed``), not node by node, in place."""
    for module in net.modules():
        if isinstance(module, SearchCell):
            module.by_source = False
    return net


def use_old_ops(net: nn.Module) -> nn.Module:
    """Swap in the old avg_pool_3x3 (torch's AvgPool2d) and the old MixedOp.mixed (edge by edge), in place."""
    edge_by_edge(net)
    for module in net.modules():
        if isinstance(module, MixedOp):
            module.__class__ = _OldMixedOp
            index = OPS.index("avg_pool_3x3")
            module.candidates[index] = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    return net


# -- timing --------------------------------------------------------------------------------------------------------
def make_step(net: nn.Module, images: torch.Tensor, labels: torch.Tensor,
              weights: torch.Tensor | None) -> Callable[[], float]:
    optimizer = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    kwargs = {} if weights is None else {"weights": weights}
    net.train()

    def step() -> float:
        loss = F.cross_entropy(net(images, **kwargs), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


CLOCK: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def time_interleaved(steps: dict[str, Callable[[], float]], rounds: int,
                     clock: Callable[[], float] = time.process_time) -> tuple[dict[str, float], dict[str, float]]:
    """Median seconds per step of each entry (one warm-up step each, then ``rounds`` rounds of one step each, in
    turn) and the first (warm-up) loss of each; the warm-up seconds of each entry go to ``WARMUP``."""
    first = {}
    for name, step in steps.items():
        start = time.perf_counter()
        first[name] = step()
        WARMUP[name] = time.perf_counter() - start
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = clock()
            step()
            times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}, first


def bench_size(C: int, N: int, batch: int, rounds: int, channels_last: bool,
               compile: bool = False, clock: str = "cpu") -> tuple[dict[str, float], dict]:
    torch.manual_seed(0)
    images = torch.randn(batch, 3, 32, 32)
    labels = torch.randint(0, 10, (batch,))
    weights = torch.softmax(1e-3 * torch.randn(6, len(OPS)), dim=-1)
    nets: dict[str, tuple[nn.Module, torch.Tensor | None]] = {}
    torch.manual_seed(1)
    nets["plain"] = (NB201Network(ALL_CONV3, C=C, N=N), None)
    torch.manual_seed(2)
    nets["supernet"] = (build_supernet(NB201_LAYOUT, C, N), weights)
    torch.manual_seed(2)
    nets["supernet, edge by edge"] = (edge_by_edge(build_supernet(NB201_LAYOUT, C, N)), weights)
    torch.manual_seed(2)
    nets["supernet, old ops"] = (use_old_ops(build_supernet(NB201_LAYOUT, C, N)), weights)
    if channels_last:
        cl = torch.channels_last
        torch.manual_seed(1)
        nets["plain + channels_last"] = (NB201Network(ALL_CONV3, C=C, N=N).to(memory_format=cl), None)
        torch.manual_seed(2)
        nets["supernet + channels_last"] = (build_supernet(NB201_LAYOUT, C, N).to(memory_format=cl), weights)
    if compile:  # in the layout the project uses (channels_last), torch.compile's default mode (Inductor, C++)
        cl = torch.channels_last
        torch.manual_seed(1)
        nets["plain + channels_last + compile"] = (NB201Network(ALL_CONV3, C=C, N=N).to(memory_format=cl), None)
        torch.manual_seed(2)
        nets["supernet + channels_last + compile"] = (build_supernet(NB201_LAYOUT, C, N).to(memory_format=cl), weights)
    steps = {}
    for name, (net, w) in nets.items():
        x = images.contiguous(memory_format=torch.channels_last) if "channels_last" in name else images
        steps[name] = make_step(torch.compile(net) if "compile" in name else net, x, labels, w)
    return time_interleaved(steps, rounds, CLOCK[clock])


# -- peak RSS of a short search (child process) -----------------------------------------------------------------------
def peak_rss_mib() -> float:
    """This process' peak resident set size: VmHWM (the ``ru_maxrss`` of an exec'd child starts at its parent's RSS
    at fork time on Linux, so it would report the parent's peak)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux


def rss_child(variant: str, steps: int) -> None:
    """A 1-epoch, ``steps``-step first-order DARTS search at C=16 N=5 batch 64 on synthetic data; prints the peak RSS
    (MiB) and the final training loss."""
    from benchmarks.bench_one_shot import synthetic_cifar  # noqa: PLC0415
    from nas_exp.one_shot import DARTS  # noqa: PLC0415
    from nas_exp.one_shot.batches import SearchBatches  # noqa: PLC0415
    from nas_exp.training.device_data import DeviceData  # noqa: PLC0415

    data = DeviceData.from_dataset(synthetic_cifar(steps * 64), torch.device("cpu"))
    method = DARTS(order=1, layout=NB201_LAYOUT, seed=0, epochs=1, C=16, N=5, batch_size=64, steps_per_epoch=steps,
                   eval_batch_size=64,
                   eval_batches=1, select_batches=1)
    batches = SearchBatches(data, 64, 0, eval_batch_size=64, steps_per_epoch=steps)
    method.setup(batches.num_classes, batches.in_channels, batches.device)
    if variant == "old":
        use_old_ops(method.net)
    elif variant == "edge":
        edge_by_edge(method.net)
    before = peak_rss_mib()
    outcome = method.search(batches)
    peak = peak_rss_mib()
    print(f"RSS {before:.0f} {peak:.0f} {outcome.records[-1].train_loss:.6f}")


def measure_rss(variant: str, steps: int, threads: int) -> tuple[float, float, float]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), root) if p)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-child", variant,
                          "--threads", str(threads), "--rss-steps", str(steps)],
                         capture_output=True, text=True, env=env, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("RSS "))
    before, peak, loss = (float(v) for v in line.split()[1:])
    return before, peak, loss


# -- report ----------------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="16x5,8x1", help="comma list of CxN (none: no timing)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (one step of every net each)")
    parser.add_argument("--clock", choices=tuple(CLOCK), default="cpu",
                        help="cpu: process CPU time (default; robust to other jobs on the box), wall: wall time")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1: stable on a busy box)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--compile", action="store_true",
                        help="also torch.compile (default mode) the channels_last nets; 'first s' = compile time")
    parser.add_argument("--rss", action="store_true", help="also the peak RSS of a 3-step full-size DARTS search")
    parser.add_argument("--rss-steps", type=int, default=3)
    parser.add_argument("--rss-child", choices=("old", "edge", "new"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.rss_child:
        rss_child(args.rss_child, args.rss_steps)
        return

    table = Table(title=f"weight step (fwd + bwd + SGD), CPU {args.threads} thread(s), batch {args.batch}, 32x32x3, "
                        f"median of {args.rounds} interleaved rounds, {args.clock} time; torch {torch.__version__}; "
                        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for col in ("C x N", "net", "ms/step", "vs plain", "vs edge by edge", "vs old ops", "first s", "first loss"):
        table.add_column(col, justify="right", no_wrap=col == "net")
    for size in [] if args.sizes == "none" else args.sizes.split(","):
        C, N = (int(v) for v in size.lower().split("x"))
        seconds, first = bench_size(C, N, args.batch, args.rounds, args.channels_last, args.compile, args.clock)
        for name, s in seconds.items():
            old = seconds["supernet, old ops"] if name.startswith("supernet") else None
            edge = seconds["supernet, edge by edge"] if name in ("supernet", "supernet, edge by edge") else None
            plain = seconds[name.replace("supernet", "plain") if name.startswith("supernet +") else "plain"]
            table.add_row(f"{C} x {N}", name, f"{1000 * s:.0f}", f"{s / plain:.2f}x" if name != "plain" else "1.00x",
                          f"{s / edge:.2f}x" if edge else "", f"{s / old:.2f}x" if old else "",
                          f"{WARMUP[name]:.1f}", f"{first[name]:.6f}")
    if args.sizes != "none":
        console.print(table)
        console.print("vs plain: supernet / plain at the same size and layout (the channels_last [+ compile] "
                      "supernet against the channels_last [+ compile] plain net; plain rows: against plain); "
                      "vs edge by edge / vs old ops: against the supernet edge by edge / with the old ops; first s: "
                      "the warm-up step's seconds (with compile: the compilation); first loss: the warm-up step's "
                      "loss (the variants of the same supernet must agree)", soft_wrap=True)
    if args.rss:
        rss = Table(title=f"peak RSS of a {args.rss_steps}-step first-order DARTS search epoch, C=16 N=5 batch 64, "
                          "fresh process each")
        for col in ("ops", "RSS after set-up MiB", "peak RSS MiB", "train loss"):
            rss.add_column(col, justify="right")
        for variant, label in (("old", "old ops"), ("edge", "edge by edge"), ("new", "now")):
            before, peak, loss = measure_rss(variant, args.rss_steps, args.threads)
            rss.add_row(label, f"{before:.0f}", f"{peak:.0f}", f"{loss:.6f}")
        console.print(rss)


if __name__ == "__main__":
    main()
