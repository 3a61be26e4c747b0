"""The benchmark suite runs end to end at its smallest size (untimed)."""

import os
import shutil

import pytest

from benchmarks import run


@pytest.fixture
def bench_env(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("BENCH_REQUESTS", "40")
    monkeypatch.setenv("BENCH_HTTP_SECONDS", "1")
    return tmp_path


def test_parse_size_reads_suffixes():
    assert [run.parse_size(s) for s in ("2000", "100k", "1M", "10m")] == [
        2000,
        100_000,
        1_000_000,
        10_000_000,
    ]


def test_suite_reports_every_stage_at_the_smallest_size(bench_env, monkeypatch):
    stages = [s for s in run.ORDER if s not in run.POSTGRES_ONLY]

    results = run.run_suite([2000], ["sqlite"], stages, bench_env / "files")

    assert [r["stage"] for r in results] == stages
    for result in results:
        assert result["rows"] > 0
        assert result["peak_mb"] > 0
        if result["stage"] != "generate":
            assert result["seconds"] > 0
            assert result["rows_per_second"] > 0

    http = results[-1]
    assert http["errors"] == 0
    assert http["generator"] == ("wrk" if shutil.which("wrk") else "python")
    assert http["server_cpu_ms"] > 0
    if http["generator"] == "wrk":
        assert http["python_errors"] == 0
        assert http["python_requests_per_second"] > 0

    # Without wrk on the PATH, the Python generator alone loads the server.
    monkeypatch.setenv("PATH", str(bench_env / "no-programs"))
    fallback = run.run_stage("http", "sqlite", 2000, bench_env / "files" / "sqlite")

    assert fallback["generator"] == "python"
    assert fallback["rows"] == 40
    assert fallback["errors"] == 0
    assert "python_requests_per_second" not in fallback


def test_cpu_seconds_reads_a_process_time_from_proc():
    spent = sum(os.times()[:2])
    sum(i * i for i in range(200_000))

    # /proc counts in clock ticks, so allow two of them either way.
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert (
        spent - 2 * tick
        <= run._cpu_seconds(os.getpid())
        <= sum(os.times()[:2]) + 2 * tick
    )
