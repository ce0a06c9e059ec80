"""benchmarks/gpu_check.py: the CPU dry run writes both reports with every part measured, the budget guard cuts
parts short and says so, and the real check refuses to run without a CUDA device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("test_gpu_check")  # one pytest worker: its module fixtures are built once

torch = pytest.importorskip("torch", reason="the GPU check needs the train extra: pip install -e '.[train]'")

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
PARTS = ("environment", "throughput", "train", "one_shot", "numerics")
HEADERS = (
    "| cell | batch | path | images/s | ms/step | vs baseline | warm-up s | note |",
    "| cell | params M | epochs | first epoch s | later epoch s (mean) | trained s | 200 epochs s (extrap.) | note |",
    "| method | timed steps | s/step | epoch s (scaled) | images/s | peak memory MiB | memory | note |",
    "| comparison | steps | first loss diff | max abs loss diff | rel weight diff | loss tol (first / max) | weight tol "
    "| within |",
    "| part | status | seconds |",
)


@pytest.fixture(scope="module")
def gpu_check():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import gpu_check

        yield gpu_check
    finally:
        sys.path.remove(str(SCRIPT.parent))


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("gpu_check")
    env = {**os.environ, "PYTHONHASHSEED": "0", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "gpu_check.json").read_text()), (out / "gpu_check.md").read_text(), done


def test_dry_run_records_every_part(dry_run) -> None:
    report, _, _ = dry_run
    assert report["mode"].startswith("dry-run")
    assert set(report["parts"]) == set(PARTS)
    for name in PARTS:
        entry = report["parts"][name]
        assert entry["status"] == "ok", entry.get("traceback")
        assert entry["seconds"] >= 0
    env = report["parts"]["environment"]["result"]
    assert env["torch"] == torch.__version__ and env["device"] == "cpu"
    assert set(env["part_seconds"]) == set(PARTS)
    assert env["total_seconds"] == report["total_seconds"] > sum(env["part_seconds"].values()) - 1e-6


def test_dry_run_throughput(dry_run) -> None:
    result = dry_run[0]["parts"]["throughput"]["result"]
    rows = result["rows"]
    sizes = dry_run[0]["sizes"]
    assert len(rows) == 2 * len(sizes["batches"]) * 6  # 2 cells x batches x 6 paths
    measured = [r for r in rows if "images_per_s" in r]
    paths = {r["path"] for r in measured}
    assert paths == {"baseline: eager fp32 DataLoader", "device data + on-device crop/flip", "channels_last"}
    assert len(measured) == 2 * len(sizes["batches"]) * 3
    for row in measured:
        assert row["images_per_s"] > 0 and row["ms_per_step"] > 0 and row["vs_baseline"] > 0
        assert row["images"] == sizes["steps"] * row["batch"]
        if row["path"].startswith("baseline"):
            assert row["vs_baseline"] == 1.0
    for row in rows:
        if "images_per_s" not in row:
            assert row["skipped"] == "skipped: needs CUDA", row
    assert result["target"]["best_images_per_s"] > 0


def test_dry_run_train(dry_run) -> None:
    result = dry_run[0]["parts"]["train"]["result"]
    assert result["recipe"]["epochs"] == 12 and "recipe.epochs=12" in result["schedule"]
    assert len(result["cells"]) == 3
    for cell in result["cells"]:
        assert cell["epochs_done"] == 2 and len(cell["epoch_seconds"]) == 2
        assert all(s > 0 for s in cell["epoch_seconds"])
        assert cell["full_200_epochs_s"] == pytest.approx(cell["epoch_seconds"][0] + 199 * cell["epoch_seconds"][1])
        assert cell["params_m"] > 0


def test_dry_run_one_shot(dry_run) -> None:
    result = dry_run[0]["parts"]["one_shot"]["result"]
    assert [r["method"] for r in result["rows"]] == ["darts 1st order", "darts 2nd order", "gdas",
                                                    "darts 1st order, darts space", "gdas, darts space"]
    for row in result["rows"]:
        assert row["step_s"] > 0 and row["epoch_s"] > 0 and row["images_per_s"] > 0
        assert row["peak_memory_mib"] > 0 and row["memory"].startswith("CPU")
        assert row["arch"].startswith("normal=") == ("darts space" in row["method"])  # the space's own keys
    ratio = result["order_ratio"]["darts2_over_darts1"]
    by = {r["method"]: r for r in result["rows"]}
    assert ratio == pytest.approx(by["darts 2nd order"]["step_s"] / by["darts 1st order"]["step_s"])


def test_dry_run_numerics(dry_run) -> None:
    result = dry_run[0]["parts"]["numerics"]["result"]
    cpu, *gpu = result["rows"]
    assert cpu["comparison"].startswith("CPU fp32 vs CPU fp64")
    assert cpu["steps"] == len(cpu["loss_diffs"]) == dry_run[0]["sizes"]["numerics_steps"]
    assert cpu["within"] is None and result["all_within"] is None  # the reference row is not judged; nothing else ran
    # at the dry run's size (C=4 N=1, 5 steps, one thread) fp32 follows fp64 closely, and never bit for bit
    assert 0 <= cpu["first_loss_diff"] < 1e-5 and cpu["max_abs_loss_diff"] < 1e-4
    assert 0 < cpu["rel_weight_diff"] < 1e-3
    assert [r["skipped"] for r in gpu] == ["skipped: needs CUDA"] * 2


def test_numerics_tolerance_scales_with_the_rounding_reference(gpu_check) -> None:
    args = gpu_check.parse_args(["--dry-run"])
    weights = torch.ones(4, dtype=torch.float64)
    reference = gpu_check.compare("ref", ([2.0, 2.0], weights), ([2.0, 2.1], weights * 1.01), args, None)
    assert reference["max_abs_loss_diff"] == pytest.approx(0.1) and reference["within"] is None
    near = gpu_check.compare("near", ([2.0, 2.0], weights), ([2.0, 2.3], weights), args, reference)
    assert near["loss_tol"] == pytest.approx(0.4) and near["within"]
    far = gpu_check.compare("far", ([2.0, 2.0], weights), ([2.0, 2.5], weights), args, reference)
    assert not far["within"]
    first = gpu_check.compare("first", ([2.0, 2.0], weights), ([2.001, 2.0], weights), args, reference)
    assert first["first_loss_diff"] > first["first_loss_tol"] and not first["within"]


def test_dry_run_markdown(dry_run) -> None:
    _, text, done = dry_run
    for header in HEADERS:
        assert header in text
    for section in ("## Environment", "## throughput", "## train", "## one_shot", "## numerics"):
        assert section in text
    assert "skipped: needs CUDA" in text and "Target:" in text and "DARTS 2nd / 1st order" in text
    assert "wrote" in done.stdout


def test_budget_guard_cuts_parts_short(gpu_check, tmp_path: Path, torch_one_thread) -> None:
    assert gpu_check.main(["--dry-run", "--parts", "throughput,train", "--budget-s", "0", "--out",
                           str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert set(report["parts"]) == {"environment", "throughput", "train"}
    rows = report["parts"]["throughput"]["result"]["rows"]
    assert {r["skipped"] for r in rows} == {"skipped: budget", "skipped: needs CUDA"}
    for cell in report["parts"]["train"]["result"]["cells"]:  # the first epoch always runs, then the guard stops
        assert cell["epochs_done"] == 1 and cell["stopped"] == "budget: stopped after 1 of 2 epochs"
        assert cell["first_epoch_s"] > 0
    assert "skipped: budget" in (tmp_path / "gpu_check.md").read_text()


def test_bad_part_is_refused(gpu_check, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        gpu_check.main(["--dry-run", "--parts", "throughput,warp_drive"])
    assert exit_.value.code == 2 and "warp_drive" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_real_run_needs_cuda(gpu_check, tmp_path: Path, capsys) -> None:
    assert gpu_check.main(["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: no CUDA device: ") and err.endswith("; use --dry-run for the CPU smoke run\n")
    assert not (tmp_path / "out").exists()
