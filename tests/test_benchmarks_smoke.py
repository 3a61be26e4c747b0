"""The benchmark suite runs end to end at its smallest size (untimed)."""

import http.client
import os
import shutil
import subprocess
import sys
import time

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


# A process of its own, so that no other child of the test run counts.
BURNER = """
import os, sys
sum(i * i for i in range(2_000_000))
times = os.times()
print(times.user + times.system, flush=True)
sys.stdin.read()
"""


def test_cpu_seconds_reads_a_process_time_from_proc():
    burner = subprocess.Popen(
        [sys.executable, "-c", BURNER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        spent = float(burner.stdout.readline())
        read = run._cpu_seconds(burner.pid)
    finally:
        burner.communicate("")

    # /proc counts in clock ticks, so allow two of them either way.
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert spent > 0.05
    assert abs(read - spent) <= 2 * tick


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_counts_every_answer_that_is_not_a_200(tmp_path, monkeypatch):
    # The demo project with no API token: every Predict call is a 401.
    port = int(os.environ.get("BENCH_HTTP_PORT", "18150")) + 1
    settings = {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "MLPIPELINE_API_TOKENS": "",
    }
    server = run.start_gunicorn(port, settings, [])
    monkeypatch.setattr(run, "HTTP_PORT", port)
    monkeypatch.setenv("BENCH_HTTP_SECONDS", "1")
    monkeypatch.setenv("BENCH_HTTP_CONNECTIONS", "2")
    url = "/mlpipeline/realtime/ml-none/"
    try:
        _wait_for_answer(port, url)
        result = run._wrk(shutil.which("wrk"), url, [{"age": "61"}], tmp_path)
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert result["rows"] > 0
    assert result["errors"] == result["rows"]
    assert result["connections"] == 2


def _wait_for_answer(port: int, url: str) -> None:
    """Wait until the server answers (gunicorn listens before it can)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("POST", url, b"{}")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    raise RuntimeError(f"gunicorn did not answer on 127.0.0.1:{port}")


def test_the_http_stage_refuses_a_port_another_server_shares():
    # gunicorn's --reuse-port would bind beside this listener silently.
    import socket

    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"Port {port} on 127.0.0.1 is taken"):
            run._check_port_free(port)
