"""The nasbench_graph benchmark built from the installed nas-bench-graph package: canonical rows, values equal to
the package's light files by hash, equivalent configurations share a row, the proteins space, optima, store checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from ConfigSpace import Configuration
from nas_bench_graph import architecture as nbg
from nas_bench_graph import light_read

from nas_exp.benchmarks import registry
from nas_exp.benchmarks.nasbench_graph import NASBENCH_GRAPH_RECIPE
from nas_exp.benchmarks.tabular import TabularBenchmark
from nas_exp.data.store import StoreError
from nas_exp.search_spaces.nasbench_graph import (
    DATASETS,
    LINKS,
    OPS,
    OPS_PROTEINS,
    NasBenchGraphSpace,
    canonical_hashes,
)

# proteins rows have NaN on the other datasets' rows: nanmean over them warns in TabularBenchmark.metric_array
pytestmark = [pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning"),
              pytest.mark.xdist_group("test_benchmark_nasbench_graph")]  # one pytest worker: module fixtures built once


@pytest.fixture(scope="module")
def space() -> NasBenchGraphSpace:
    return NasBenchGraphSpace("cora", seed=0)


@pytest.fixture(scope="module")
def proteins_space() -> NasBenchGraphSpace:
    return NasBenchGraphSpace("proteins", seed=0)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("graph_store")
    NasBenchGraphSpace().tabular_benchmark(root=root)
    return root


@pytest.fixture(scope="module")
def bench(root: Path) -> TabularBenchmark:
    return TabularBenchmark(NASBENCH_GRAPH_RECIPE, root=root)


@pytest.fixture(scope="module")
def light() -> dict[str, dict]:
    return {dataset: light_read(dataset) for dataset in ("cora", "arxiv", "proteins")}


def test_rows_are_the_benchmark_hashes(light: dict, space: NasBenchGraphSpace,
                                       proteins_space: NasBenchGraphSpace) -> None:
    hashes = canonical_hashes()
    assert len(hashes) == NASBENCH_GRAPH_RECIPE.n_configs == 26_206 == len(space)
    assert np.array_equal(hashes, np.array(sorted(light["cora"])))
    assert len(light["proteins"]) == 2_021 == len(proteins_space)
    # proteins' file uses the same 9-op hashes: its architectures are a subset of the same rows
    assert set(light["proteins"]) <= set(light["cora"])
    assert np.array_equal(hashes[proteins_space.canonical_rows()], np.array(sorted(light["proteins"])))
    assert LINKS == tuple(",".join(map(str, link)) for link in nbg.link_list)
    assert (OPS, OPS_PROTEINS) == (tuple(nbg.gnn_list), tuple(nbg.gnn_list_proteins))
    assert registry.recipe("nasbench_graph") is NASBENCH_GRAPH_RECIPE


def test_sizes(bench: TabularBenchmark) -> None:
    assert bench.datasets == DATASETS
    for dataset in DATASETS:
        valid = bench.table(dataset).run_metrics["valid_acc"]
        assert valid.shape == (26_206, 1, 1)
        assert int((~np.isnan(valid)).sum()) == (2_021 if dataset == "proteins" else 26_206)
    assert NASBENCH_GRAPH_RECIPE.cost_metric is None


def test_values_equal_the_light_files(bench: TabularBenchmark, space: NasBenchGraphSpace,
                                      proteins_space: NasBenchGraphSpace, light: dict) -> None:
    rng = np.random.default_rng(0)
    for dataset, sp in (("cora", space), ("arxiv", space), ("proteins", proteins_space)):
        for config in sp.configspace.sample_configuration(60):
            link = [int(x) for x in str(config["link"]).split(",")]
            ops = [str(config[f"op_{i}"]) for i in range(1, 5)]
            record = light[dataset][nbg.Arch(link, ops).valid_hash()]  # the package's own lookup
            arch = sp.from_config(config)
            values = bench.query_index(sp.table_index(arch), dataset, seed=0, arch=sp.key(arch)).values
            assert values["valid_acc"] == float(record["valid_perf"]) * 100
            assert values["test_acc"] == float(record["perf"]) * 100
            assert values["latency"] == float(record["latency"])
            assert values["params"] == float(record["para"])
    rows = rng.choice(26_206, 50, replace=False)
    for row in rows:
        record = light["cora"][int(canonical_hashes()[row])]
        assert bench.query_index(int(row), "cora").values["valid_acc"] == float(record["valid_perf"]) * 100


def test_equivalent_configurations_share_a_row(space: NasBenchGraphSpace) -> None:
    pairs = [
        # all four nodes read the input: the order of the ops does not matter
        (("0,0,0,0", ("gcn", "gat", "gin", "sage")), ("0,0,0,0", ("sage", "gin", "gat", "gcn"))),
        # two parallel two-node chains swap
        (("0,0,1,2", ("gcn", "gat", "sage", "fc")), ("0,0,1,2", ("gat", "gcn", "fc", "sage"))),
        # a skip in front of one branch is moved (link 0,1,1,1 with skip first = 0,0,0,0 without it)
        (("0,1,1,1", ("skip", "gcn", "gat", "gin")), ("0,0,0,0", ("skip", "gin", "gat", "gcn"))),
    ]
    for (link_a, ops_a), (link_b, ops_b) in pairs:
        hash_a = nbg.Arch([int(x) for x in link_a.split(",")], list(ops_a)).valid_hash()
        hash_b = nbg.Arch([int(x) for x in link_b.split(",")], list(ops_b)).valid_hash()
        assert hash_a == hash_b
        config_a = {"link": link_a, **{f"op_{i + 1}": op for i, op in enumerate(ops_a)}}
        config_b = {"link": link_b, **{f"op_{i + 1}": op for i, op in enumerate(ops_b)}}
        arch = space.from_config(config_a)
        assert arch == space.from_config(config_b)
        assert space.table_index(arch) == int(np.searchsorted(canonical_hashes(), hash_a))
        assert space.from_key(f"{link_b}|{','.join(ops_b)}") == arch


def test_every_configuration_maps_to_its_canonical_row(space: NasBenchGraphSpace) -> None:
    """The cached lookup equals nas_bench_graph's canonicalisation on a sample of all 59,049 configurations."""
    rng = np.random.default_rng(2)
    hashes = canonical_hashes()
    for _ in range(300):
        link = LINKS[int(rng.integers(len(LINKS)))]
        ops = [OPS[int(i)] for i in rng.integers(len(OPS), size=4)]
        if ops == ["skip"] * 4:
            continue
        expected = nbg.Arch([int(x) for x in link.split(",")], ops).valid_hash()
        assert hashes[space.table_index((link, tuple(ops)))] == expected
        assert hashes[space.table_index(space.from_key(f"{link}|{','.join(ops)}"))] == expected


def test_converters_are_lossless_on_every_canonical_architecture(space: NasBenchGraphSpace,
                                                                 proteins_space: NasBenchGraphSpace) -> None:
    for sp in (space, proteins_space):
        for row, arch in zip(sp.canonical_rows(), sp.canonical_archs()):
            config = sp.to_config(arch)
            assert sp.from_config(config) == arch
            assert sp.table_index(arch) == row
            assert sp.from_key(sp.key(arch)) == arch
    for config in space.configspace.sample_configuration(200):
        arch = space.from_config(config)
        assert space.from_config(space.to_config(arch)) == arch


def test_all_skip_is_forbidden(space: NasBenchGraphSpace) -> None:
    values = {"link": "0,1,2,3", **{f"op_{i}": "skip" for i in range(1, 5)}}
    with pytest.raises(Exception, match="(?i)forbidden"):
        Configuration(space.configspace, values=values).check_valid_configuration()
    with pytest.raises(ValueError, match="all four ops skip"):
        space.from_config(values)
    assert all([str(c[f"op_{i}"]) for i in range(1, 5)] != ["skip"] * 4
               for c in space.configspace.sample_configuration(500))


def test_proteins_space_has_the_five_ops(proteins_space: NasBenchGraphSpace, bench: TabularBenchmark) -> None:
    assert tuple(proteins_space.configspace["op_1"].choices) == OPS_PROTEINS
    valid = bench.metric_array("proteins", "valid_acc")
    assert np.array_equal(np.flatnonzero(~np.isnan(valid)), proteins_space.canonical_rows())
    with pytest.raises(ValueError, match="unknown op 'gat' for op_1 on proteins"):
        proteins_space.from_config({"link": "0,0,0,0", "op_1": "gat", "op_2": "gcn", "op_3": "gcn", "op_4": "gcn"})
    with pytest.raises(ValueError, match="valid: cora, citeseer"):
        NasBenchGraphSpace("Cora")


def test_optima(bench: TabularBenchmark, space: NasBenchGraphSpace, light: dict) -> None:
    archs = {row: arch for row, arch in zip(space.canonical_rows(), space.canonical_archs())}
    for dataset in DATASETS:
        best, row = bench.optimum(dataset, "valid_acc")
        test = bench.query_index(row, dataset).values["test_acc"]
        print(f"nasbench_graph {dataset}: best valid_acc {best:.4f}% (test_acc {test:.4f}%) at "
              f"{space.key(archs[row])}")
    for dataset in ("cora", "proteins"):
        assert bench.optimum(dataset, "valid_acc")[0] == \
            100 * max(float(r["valid_perf"]) for r in light[dataset].values())


def test_checksum_mismatch_is_detected(root: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(root, copy)
    folder = copy / "nasbench_graph" / "nas-bench-graph"
    shutil.copyfile(folder / "citeseer.npz", folder / "cora.npz")
    with pytest.raises(StoreError, match="checksum"):
        TabularBenchmark(NASBENCH_GRAPH_RECIPE, root=copy).table("cora")


def test_bad_dataset_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: cora, citeseer, pubmed, cs, physics, photo, computers, arxiv, "
                                         "proteins"):
        NASBENCH_GRAPH_RECIPE.check_dataset("ogbn-arxiv")
