"""The benchmark suite runs end to end at its smallest size (untimed)."""

import pytest

from benchmarks import run


@pytest.fixture
def bench_env(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("BENCH_REQUESTS", "40")
    return tmp_path


def test_parse_size_reads_suffixes():
    assert [run.parse_size(s) for s in ("2000", "100k", "1M", "10m")] == [
        2000,
        100_000,
        1_000_000,
        10_000_000,
    ]


def test_suite_reports_every_stage_at_the_smallest_size(bench_env):
    stages = [s for s in run.ORDER if s not in run.POSTGRES_ONLY]

    results = run.run_suite([2000], ["sqlite"], stages, bench_env / "files")

    assert [r["stage"] for r in results] == stages
    for result in results:
        assert result["rows"] > 0
        assert result["peak_mb"] > 0
        if result["stage"] != "generate":
            assert result["seconds"] > 0
            assert result["rows_per_second"] > 0
