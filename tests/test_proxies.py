"""Zero-cost proxies (nas_exp/proxies) and optimizer=bananas_zc: hand-checked proxy values, disconnected cells,
determinism, the resumable cache build, the report on a partial cache, one-line errors, a short warm-started search.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from hydra import compose, initialize_config_dir  # noqa: E402
from scipy import stats  # noqa: E402
from torch import nn  # noqa: E402

from conftest import REPO, run_in_store  # noqa: E402
from nas_exp.errors import MissingDataError, UserError  # noqa: E402
from nas_exp.models.params import count_parameters_mb  # noqa: E402
from nas_exp.proxies import cache as proxy_cache  # noqa: E402
from nas_exp.proxies.__main__ import main as proxies_main  # noqa: E402
from nas_exp.proxies.cache import build_cache, read_cache  # noqa: E402
from nas_exp.proxies.compute import ProxySettings, check_proxies, make_batch, score_arch  # noqa: E402
from nas_exp.proxies.measures import PROXY_NAMES, Batch, flops, jacov_floor, nwot, params, synflow  # noqa: E402
from nas_exp.proxies.report import proxy_report  # noqa: E402
from nas_exp.proxies.scorer import ProxyScorer  # noqa: E402
from nas_exp.proxies.spaces import space_from_conf  # noqa: E402
from nas_exp.search_spaces.base import CapabilityError  # noqa: E402
from nas_exp.search_spaces.nb201 import Arch, NB201Space  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SETTINGS = ProxySettings(C=4, N=1, resolution=8, batch_size=8)  # smaller than the default: quick tests
ALL_NONE = Arch(["none"] * 6)
ALL_CONV = Arch(["nor_conv_3x3"] * 6)
# every path to node 3 goes through none, though some edges carry ops
CUT = Arch(["nor_conv_3x3", "skip_connect", "nor_conv_1x1", "none", "none", "none"])


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space()


@pytest.fixture(scope="module")
def batch() -> Batch:
    return make_batch(SETTINGS)[0]


def test_params_is_the_parameter_count(space, batch):
    net = space.build_network(ALL_CONV, seed=0, C=4, N=1, num_classes=10)
    assert params(net, batch) == round(count_parameters_mb(net) * 1e6)


def test_flops_count_the_multiply_accumulates_of_conv_and_linear_layers():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 2))
    one = Batch(torch.zeros(5, 3, 5, 5), torch.zeros(5, dtype=torch.int64))
    assert flops(net, one) == 4 * 5 * 5 * 3 * 3 * 3 + 4 * 2  # per image, whatever the batch size


def test_synflow_is_data_free_and_matches_a_hand_computed_two_layer_value():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3, bias=False), nn.Linear(3, 1, bias=False))
    w, v = net[1].weight.detach().abs().double(), net[2].weight.detach().abs().double()
    r = float((v @ w).sum())  # the output for an all-ones input with |weights|
    # each layer's sum |theta * dR/dtheta| equals R for a chain of linear layers: 2 R in all
    batch_a = Batch(torch.randn(4, 3, 2, 2), torch.zeros(4, dtype=torch.int64))
    batch_b = Batch(torch.randn(4, 3, 2, 2) * 100, torch.ones(4, dtype=torch.int64))
    import copy

    assert synflow(copy.deepcopy(net), batch_a) == pytest.approx(2 * r, rel=1e-12)
    assert synflow(copy.deepcopy(net), batch_b) == synflow(copy.deepcopy(net), batch_a)


def test_nwot_of_identical_images_is_the_floor_and_of_distinct_images_at_least_zero(space, batch):
    net = space.build_network(ALL_CONV, seed=0, C=4, N=1, num_classes=10)
    same = Batch(batch.images[:1].repeat(4, 1, 1, 1), batch.labels[:4])
    assert nwot(net, same) == 0.0  # K singular: the documented floor
    assert nwot(net, batch) > 0.0  # an integer Gram matrix that is not singular has det >= 1


@pytest.mark.parametrize("arch", [ALL_NONE, CUT], ids=["all-none", "cut"])
def test_a_disconnected_cell_gets_each_proxys_floor(space, batch, arch):
    result = score_arch(space, arch, SETTINGS, batch)
    assert result.disconnected
    floors = {"synflow": 0.0, "grad_norm": 0.0, "snip": 0.0, "fisher": 0.0, "nwot": 0.0,
              "jacov": jacov_floor(SETTINGS.batch_size)}
    for name, value in floors.items():
        assert result.scores[name] == value, name
    net = space.build_network(arch, seed=0, C=4, N=1, num_classes=10)
    assert result.scores["params"] == round(count_parameters_mb(net) * 1e6)  # still counted
    assert all(math.isfinite(v) for v in result.scores.values())


def test_higher_is_better_a_conv_cell_outscores_a_disconnected_one_on_every_proxy(space, batch):
    conv = score_arch(space, ALL_CONV, SETTINGS, batch)
    cut = score_arch(space, ALL_NONE, SETTINGS, batch)
    assert not conv.disconnected
    for name in PROXY_NAMES:
        assert conv.scores[name] > cut.scores[name], name
    assert jacov_floor(8) < conv.scores["jacov"] < 0  # NASLib's sign: negative, higher is better


def test_scores_are_deterministic_and_independent_of_earlier_proxies(space, batch):
    first = score_arch(space, ALL_CONV, SETTINGS, batch).scores
    again = score_arch(space, ALL_CONV, SETTINGS, batch).scores
    assert first == again
    alone = {name: score_arch(space, ALL_CONV, SETTINGS, batch, proxies=[name]).scores[name]
             for name in ("synflow", "nwot", "fisher")}
    assert alone == {name: first[name] for name in alone}


def test_the_batch_is_seeded_resized_and_synthetic_on_request():
    a, source = make_batch(SETTINGS)
    b, _ = make_batch(SETTINGS)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.shape == (8, 3, 8, 8) and "digits" in source
    wide = make_batch(ProxySettings(resolution=16, batch_size=8))[0]
    assert wide.images.shape == (8, 3, 16, 16)
    assert abs(float(wide.images.mean())) < 1.0  # normalised
    synthetic, source = make_batch(ProxySettings(data="synthetic", batch_size=8, seed=3))
    assert "synthetic" in source and synthetic.images.shape == (8, 3, 16, 16)
    assert not torch.equal(synthetic.images, make_batch(ProxySettings(data="synthetic", batch_size=8))[0].images)


def _arrays(table) -> dict[str, np.ndarray]:
    return {**table.scores, "done": table.done, "disconnected": table.disconnected}


def test_a_stopped_build_resumes_to_the_uninterrupted_result(space, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = proxy_cache.score_arch

    def stopping(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 4:
            raise KeyboardInterrupt  # the user stops the build in its second part
        return real(*args, **kwargs)

    monkeypatch.setattr(proxy_cache, "score_arch", stopping)
    with pytest.raises(KeyboardInterrupt):
        build_cache(space, SETTINGS, root=tmp_path / "a", limit=8, part_rows=3, progress=False)
    monkeypatch.setattr(proxy_cache, "score_arch", real)
    folder = proxy_cache.cache_dir(tmp_path / "a", "nb201", SETTINGS)
    assert [p.name for p in sorted(folder.glob("part_*.npz"))] == ["part_0000000_0000003.npz"]
    assert not list(folder.glob(".*tmp"))  # no half-written file
    resumed = build_cache(space, SETTINGS, root=tmp_path / "a", limit=8, part_rows=3, progress=False)
    assert resumed.computed == 5 and resumed.n_done == 8
    whole = build_cache(space, SETTINGS, root=tmp_path / "b", limit=8, part_rows=8, progress=False)
    assert whole.computed == 8
    a, b = read_cache(space, SETTINGS, tmp_path / "a"), read_cache(space, SETTINGS, tmp_path / "b")
    for name, values in _arrays(a).items():
        np.testing.assert_array_equal(values, _arrays(b)[name], err_msg=name)
    assert a.n_done == 8 and not a.complete and a.keys[0] == space.key(next(space.canonical_archs()))
    again = build_cache(space, SETTINGS, root=tmp_path / "a", limit=8, progress=False)
    assert again.computed == 0  # nothing left to do
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["settings"] == SETTINGS.as_dict() and meta["n_done"] == 8 and meta["seconds_per_arch"] > 0
    assert "digits" in meta["data_source"] and meta["torch"] == torch.__version__


def test_the_cli_builds_and_refuses_a_report_on_too_few_cells(tmp_path, capsys):
    settings = ["--C", "4", "--resolution", "8", "--batch-size", "8"]
    assert proxies_main(["build", "--space", "nb201", "--root", str(tmp_path), "--limit", "9", "--no-progress",
                         *settings]) == 0
    assert "cache holds 9 of 15625" in capsys.readouterr().out
    assert proxies_main(["report", "--space", "nb201", "--root", str(tmp_path), *settings]) == 2
    assert "holds 9 cell(s)" in capsys.readouterr().err  # too few for a correlation: refused in one line


def test_the_report_on_a_partial_cache_is_restricted_to_the_cells_done(space, tmp_path, store_root, bench):
    build_cache(space, SETTINGS, root=tmp_path, limit=14, progress=False)
    table = read_cache(space, SETTINGS, tmp_path)
    report = proxy_report(space, table, root=store_root)
    assert report.partial and report.n_done == 14 and report.n_total == 15625
    assert {c.dataset for c in report.correlations} == set(bench.datasets)
    rows = [space.table_index(space.from_key(k)) for k in table.keys[:14]]
    truth = bench.metric_array("cifar100", "valid_acc")[rows]
    hit = next(c for c in report.correlations if (c.proxy, c.dataset, c.metric) == ("nwot", "cifar100", "valid_acc"))
    assert hit.n == 14
    assert hit.spearman == pytest.approx(stats.spearmanr(table.scores["nwot"][:14], truth).statistic)
    assert hit.kendall == pytest.approx(stats.kendalltau(table.scores["nwot"][:14], truth).statistic)
    assert "PARTIAL" in report.markdown() and report.markdown().count("\n| ") == len(PROXY_NAMES) + 3
    assert report.seconds["total"] == pytest.approx(sum(v for k, v in report.seconds.items() if k != "total"))
    assert report.csv().count("\n") == 1 + len(report.correlations)


def test_one_line_errors_for_bad_input(space, tmp_path, capsys):
    with pytest.raises(UserError, match="unknown proxy 'bogus'; valid: params, flops"):
        check_proxies(["bogus"])
    with pytest.raises(UserError, match="unknown proxy data 'cifar'"):
        ProxySettings(data="cifar")
    with pytest.raises(UserError, match="proxy setting C must be an int >= 1"):
        ProxySettings(C=0)
    with pytest.raises(UserError, match="unknown search space 'nb999'; valid: .*nb201"):
        space_from_conf("nb999")
    with pytest.raises(CapabilityError, match="search_space=fcnet cannot build networks for zero-cost proxies"):
        build_cache(space_from_conf("fcnet"), SETTINGS, root=tmp_path, progress=False)
    assert proxies_main(["build", "--space", "fcnet", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: search_space=fcnet cannot") and err.count("\n") == 1
    with pytest.raises(UserError, match="no proxy cache for search_space=nb201"):
        read_cache(space, SETTINGS, tmp_path)


def test_missing_proxy_data_says_how_to_get_it_or_to_use_digits(monkeypatch, tmp_path):
    from nas_exp.datasets import fashion_mnist, registry

    monkeypatch.setenv("NAS_EXP_IMAGES", str(tmp_path / "empty"))
    absent = tmp_path / "no-debian"  # as on a machine without Debian's dataset-fashion-mnist
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FOLDER", absent)
    monkeypatch.setitem(registry.RAW_FILES, "fashion-mnist", replace(registry.FASHION_MNIST_FILES, fallback=absent))
    with pytest.raises(MissingDataError, match="--data digits") as err:
        make_batch(ProxySettings(data="fashion-mnist"))
    assert "\n" not in str(err.value) and "apt-get install dataset-fashion-mnist" in str(err.value)


def test_fashion_mnist_batch_is_grey_repeated_to_three_channels():
    from nas_exp.datasets import fashion_mnist

    if fashion_mnist.find_folder(Path("/nonexistent")) != fashion_mnist.DEBIAN_FOLDER:
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    batch, source = make_batch(ProxySettings(data="fashion-mnist", batch_size=4, resolution=8))
    assert batch.images.shape == (4, 3, 8, 8) and "fashion-mnist" in source
    assert torch.equal(batch.images[:, 0], batch.images[:, 2])


# --- optimizer=bananas_zc ------------------------------------------------------------------------------------------
def _search(tmp_path: Path, store_root: Path, name: str, overrides: list[str]) -> tuple[list[dict], dict]:
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["progress=false", "optimizer=bananas_zc", *overrides])
    run_in_store(cfg, tmp_path / name, store_root)
    with open(tmp_path / name / "trajectory.csv", newline="") as handle:
        rows = [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(handle)]
    return rows, json.loads((tmp_path / name / "zero_cost_warm_start.json").read_text())


@pytest.mark.slow
def test_bananas_zc_warm_starts_from_the_pools_best_and_is_deterministic(tmp_path, store_root):
    overrides = ["budget.max_evaluations=15", "optimizer.pool_size=16", "optimizer.n_initial=5",
                 "optimizer.batch_size=5", "optimizer.epochs=20", "optimizer.proxy=synflow",
                 "optimizer.proxy_settings.C=4", "optimizer.proxy_settings.resolution=8",
                 "optimizer.proxy_settings.batch_size=8"]
    first, warm = _search(tmp_path, store_root, "first", overrides)
    second, warm_again = _search(tmp_path, store_root, "second", overrides)
    assert first == second and warm == warm_again
    assert warm["settings"] == SETTINGS.as_dict()
    assert len(first) == 15 and warm["computed"] == 16 and warm["from_cache"] == 0
    scores = {p["key"]: p["score"] for p in warm["pool"]}
    top = sorted(scores.values(), reverse=True)[:5]
    assert [scores[k] for k in warm["initial_design"]] == top
    assert [row["arch"] for row in first[:5]] == warm["initial_design"]


def test_bananas_zc_reads_the_cache_and_it_agrees_with_scores_computed_on_the_fly(space, tmp_path, monkeypatch):
    from nas_exp.optimizers.bananas_zc import BananasZC

    build_cache(space, SETTINGS, root=tmp_path, limit=12, progress=False)
    monkeypatch.setenv("NAS_EXP_DATA", str(tmp_path))
    first_twelve = [space.to_config(a) for a in list(space.canonical_archs())[:12]]
    monkeypatch.setattr(BananasZC, "_pool", lambda self: first_twelve)
    designs = {}
    for use_cache in (True, False):
        out = tmp_path / f"run_{use_cache}"
        scorer = ProxyScorer.from_config(space, asdict(SETTINGS), use_cache=use_cache)
        zc = BananasZC(space.configspace, seed=0, output_dir=out, scorer=scorer, pool_size=12, n_initial=4,
                       proxy="jacov")
        zc.ask()
        warm = json.loads((out / "zero_cost_warm_start.json").read_text())
        assert (warm["from_cache"], warm["computed"]) == ((12, 0) if use_cache else (0, 12))
        designs[use_cache] = warm["initial_design"]
    assert designs[True] == designs[False]


def test_bananas_zc_yaml_defaults_are_the_proxy_defaults():
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["optimizer=bananas_zc"])
    assert dict(cfg.optimizer.proxy_settings) == asdict(ProxySettings())


def test_bananas_zc_refuses_a_space_without_networks_and_a_bad_proxy(tmp_path, store_root):
    from nas_exp.optimizers.bananas_zc import BananasZC

    with pytest.raises(CapabilityError, match=r"search_space=fcnet cannot build networks to score architectures "
                                              r"by a zero-cost proxy \(optimizer=bananas_zc\)"):
        _search(tmp_path, store_root, "fcnet", ["search_space=fcnet", "dataset=protein_structure",
                                                "optimizer=bananas_zc"])
    assert not (tmp_path / "fcnet" / "trajectory.csv").exists()
    scorer = ProxyScorer(NB201Space(), SETTINGS)
    with pytest.raises(UserError, match="unknown proxy 'bogus'"):
        BananasZC(NB201Space().configspace, seed=0, scorer=scorer, proxy="bogus")
    with pytest.raises(UserError, match="pool_size .* must be at least optimizer.n_initial"):
        BananasZC(NB201Space().configspace, seed=0, scorer=scorer, pool_size=3)
    with pytest.raises(UserError, match="needs a zero-cost proxy scorer, which the run builds"):
        BananasZC(NB201Space().configspace, seed=0)
    with pytest.raises(UserError, match="optimizer.proxy_settings: .*unexpected keyword argument 'depth'"):
        ProxyScorer.from_config(NB201Space(), {"depth": 3})


@pytest.mark.slow
def test_a_build_with_worker_processes_equals_the_serial_one(space, tmp_path):
    serial = build_cache(space, SETTINGS, root=tmp_path / "serial", limit=6, part_rows=3, progress=False)
    parallel = build_cache(space, SETTINGS, root=tmp_path / "workers", limit=6, part_rows=3, workers=2,
                           progress=False)
    assert serial.computed == parallel.computed == 6
    a, b = read_cache(space, SETTINGS, tmp_path / "serial"), read_cache(space, SETTINGS, tmp_path / "workers")
    for name, values in _arrays(a).items():
        np.testing.assert_array_equal(values, _arrays(b)[name], err_msg=name)
