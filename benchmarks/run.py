"""Run the benchmark suite: ``bin/bench --sizes 100k,1M --databases sqlite``.

Each measurement runs in a child process of its own, so its peak resident
memory (``ru_maxrss`` from :func:`os.wait4`) is that stage's alone, and is
printed beside its rows per second and wall time. Every stage has a
reference measured in the same run on the same rows, and the ratio of the
two is what to compare between machines.

The parent prints a table and, with ``--json FILE``, writes every figure.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import http.client
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# BENCH_HTTP_PORT moves gunicorn when several people share one machine.
HTTP_PORT = int(os.environ.get("BENCH_HTTP_PORT", "18150"))
#: The L2 amount of the ``sgd`` and ``sgd_optimum`` stages (Amazon's
#: console default unless ``BENCH_SGD_L2`` says otherwise).
SGD_L2 = float(os.environ.get("BENCH_SGD_L2", "1e-6"))
#: The token the HTTP stage's server accepts and its requests carry.
HTTP_TOKEN = "bench-token"
_SIZES = {"k": 1_000, "m": 1_000_000}


def parse_size(text: str) -> int:
    """Return the row count ``text`` names: ``2000``, ``100k``, ``1M``."""
    text = text.strip().lower()
    if text[-1:] in _SIZES:
        return int(float(text[:-1]) * _SIZES[text[-1]])
    return int(text)


# ---------------------------------------------------------------- children


def _django(database: str) -> None:
    os.environ["DATABASE"] = database
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    import django

    django.setup()


def _table() -> str:
    from benchmarks.models import BenchPolicy

    return BenchPolicy._meta.db_table


def stage_generate(size: int, work: Path) -> dict[str, Any]:
    """Fill the bench table with ``size`` generated policies, if not yet."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from benchmarks.models import BenchPolicy
    from project.demo.policies import generate_policies

    call_command("migrate", verbosity=0)
    if BenchPolicy.objects.count() == size:
        return {"rows": size, "seconds": 0.0, "note": "kept"}
    started = time.perf_counter()
    table = _table()
    epoch = datetime.date(2000, 1, 1)
    rows = (
        (i + 1, number, plan, epoch + datetime.timedelta(days=(i * 7919) % 9000))
        for i, (number, plan) in enumerate(generate_policies(size, seed=2015))
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
        if connection.vendor == "postgresql":
            sql = f"COPY {table} (id, number, plan, issued_on) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {size + 1})"
            )
        else:
            sql = f"INSERT INTO {table} (id, number, plan, issued_on) VALUES (?,?,?,?)"
            raw = cursor.cursor
            while chunk := [next(rows, None) for _ in range(50_000)]:
                chunk = [row for row in chunk if row is not None]
                if not chunk:
                    break
                raw.executemany(sql, [(*r[:3], r[3].isoformat()) for r in chunk])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table}")
    return {"rows": size, "seconds": time.perf_counter() - started}


def stage_extract(size: int, work: Path) -> dict[str, Any]:
    """Extract the four-column table to CSV through mlpipeline."""
    from benchmarks.pipelines import BenchExtractPipeline
    from mlpipeline.extract import copy_sql, extract
    from mlpipeline.schema import layout_for

    pipeline = BenchExtractPipeline()
    layout = layout_for(pipeline)
    path = work / "extract.csv"
    started = time.perf_counter()
    rows = extract(pipeline, layout, path, chunk_size=2000)
    seconds = time.perf_counter() - started
    used_copy = copy_sql(pipeline.get_queryset().order_by("pk"), layout) is not None
    path.unlink()
    return {"rows": rows, "seconds": seconds, "path": "COPY" if used_copy else "iter"}


def stage_ref_cursor(size: int, work: Path) -> dict[str, Any]:
    """Reference: a raw DB-API cursor with fetchmany into csv.writer."""
    from django.db import connection

    path = work / "cursor.csv"
    started = time.perf_counter()
    rows = 0
    with (
        connection.cursor() as cursor,
        open(path, "w", newline="", encoding="utf-8") as file,
    ):
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["id", "number", "plan", "issued_on"])
        raw = cursor.cursor
        raw.execute(f"SELECT id, number, plan, issued_on FROM {_table()} ORDER BY id")
        while chunk := raw.fetchmany(2000):
            writer.writerows(chunk)
            rows += len(chunk)
    seconds = time.perf_counter() - started
    path.unlink()
    return {"rows": rows, "seconds": seconds}


def stage_ref_copy(size: int, work: Path) -> dict[str, Any]:
    """Reference (PostgreSQL): a bare COPY of the table to a file."""
    from django.db import connection

    path = work / "copy.csv"
    started = time.perf_counter()
    rows = 0
    with connection.cursor() as cursor, open(path, "wb") as file:
        sql = f"COPY (SELECT * FROM {_table()} ORDER BY id) TO STDOUT WITH CSV"
        with cursor.cursor.copy(sql) as copy:
            for block in copy:
                file.write(block)
                rows += bytes(block).count(b"\n")
    seconds = time.perf_counter() - started
    path.unlink()
    return {"rows": rows, "seconds": seconds}


def stage_ref_instances(size: int, work: Path) -> dict[str, Any]:
    """Reference: model instances through QuerySet.iterator(), as before."""
    from benchmarks.models import BenchPolicy

    path = work / "instances.csv"
    started = time.perf_counter()
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        for policy in BenchPolicy.objects.order_by("pk").iterator(chunk_size=2000):
            writer.writerow(
                [policy.pk, policy.number, policy.plan, policy.issued_on.isoformat()]
            )
            rows += 1
    seconds = time.perf_counter() - started
    path.unlink()
    return {"rows": rows, "seconds": seconds}


def stage_extract_transform(size: int, work: Path) -> dict[str, Any]:
    """Extract and transform the policy pipeline (20 digits) end to end.

    As ``learn`` does it: the rows go from the database through the
    expanders straight into the features file.
    """
    from benchmarks.pipelines import BenchPolicyPipeline
    from mlpipeline.extract import copy_sql, extract_batches
    from mlpipeline.schema import layout_for
    from mlpipeline.transform import finish, write_features

    pipeline = BenchPolicyPipeline()
    layout = layout_for(pipeline)
    features_path = work / "features.csv"
    started = time.perf_counter()
    batches = extract_batches(pipeline, layout, chunk_size=2000)
    result = finish(layout, write_features(layout, batches, features_path))
    seconds = time.perf_counter() - started
    used_copy = copy_sql(pipeline.get_queryset().order_by("pk"), layout) is not None
    return {
        "rows": result.rows,
        "seconds": seconds,
        "path": "COPY" if used_copy else "iter",
    }


def stage_ref_csv_write(size: int, work: Path) -> dict[str, Any]:
    """Reference: csv.writer writing the already-computed features."""
    from mlpipeline.split import split_paths

    timed = 0.0
    rows = 0
    for source in split_paths(work / "features.csv").values():
        with (
            open(source, newline="", encoding="utf-8") as file,
            open(work / "again.csv", "w", newline="", encoding="utf-8") as sink,
        ):
            reader = csv.reader(file)
            writer = csv.writer(sink, lineterminator="\n")
            next(reader)
            while chunk := [row for _, row in zip(range(8192), reader, strict=False)]:
                started = time.perf_counter()
                writer.writerows(chunk)
                timed += time.perf_counter() - started
                rows += len(chunk)
    (work / "again.csv").unlink()
    return {"rows": rows, "seconds": timed}


def _peak_kb() -> int:
    """Return this process's peak resident memory (VmHWM) in kB."""
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Restart the peak (VmHWM) count from the current use; Linux only."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
    except OSError:
        return False
    return True


def stage_learn(size: int, work: Path) -> dict[str, Any]:
    """Run ``learn`` on the policy pipeline: extract, transform and load.

    Besides the stage's peak, each step's own peak resident memory is
    recorded (``step_peak_mb``): the peak count restarts as a step starts,
    so a step's figure is the most it held, whatever earlier steps held,
    and the stage's own peak is the largest of them.
    """
    import contextlib

    from benchmarks.pipelines import BenchPolicyPipeline
    from mlpipeline.learn import learn
    from mlpipeline.models import Run

    peaks: dict[str, float] = {}
    recorded_step = Run.step

    @contextlib.contextmanager
    def measured_step(self: Run, name: str) -> Any:
        resettable = _reset_peak()
        with recorded_step(self, name) as step:
            yield step
        if resettable:
            peaks[name] = _peak_kb() / 1024

    Run.step = measured_step  # type: ignore[method-assign]
    before = _peak_kb() / 1024
    started = time.perf_counter()
    run = learn(BenchPolicyPipeline())
    seconds = time.perf_counter() - started
    steps = {step.name: step.seconds for step in run.steps.all()}
    return {
        "rows": run.rows_extracted,
        "seconds": seconds,
        "metric": run.metric_value,
        "passes": _engine_training(run).get("passes"),
        "steps": steps,
        "step_peak_mb": {name: round(mb, 1) for name, mb in peaks.items()},
        "own_peak_mb": max([before, *peaks.values(), _peak_kb() / 1024]),
    }


def _engine_training(run: Any) -> dict[str, Any]:
    """Return the embedded engine's training record of ``run``'s model."""
    from mlpipeline.backends import get_backend

    document = get_backend(run.backend).client._repo.load("mlmodel", run.model_id)
    return (document or {}).get("training") or {}


def _training_rows(work: Path) -> tuple[Any, ...]:
    """Return the engine's train and evaluation matrices of the features."""
    import numpy as np

    from mlpipeline.engine.csvio import ReadReport, read_records
    from mlpipeline.engine.features import FeatureSpace
    from mlpipeline.engine.recipe import parse_recipe, suggest_recipe
    from mlpipeline.engine.schema import parse_schema
    from mlpipeline.engine.split import Rearrangement
    from mlpipeline.engine.values import OK, Table, build_table
    from mlpipeline.split import split_paths

    paths = split_paths(work / "features.csv")
    schema = parse_schema((work / "features.csv.schema").read_text())
    positions = {name: i for i, name in enumerate(schema.names)}

    def table(path: Path) -> Table:
        blocks = read_records(
            lambda: open(path, "rb"), schema, Rearrangement(), ReadReport()
        )
        parsed = [build_table(rows, positions, schema.types) for rows in blocks]
        whole = Table.concat(parsed, schema.types)
        return whole.select(whole[schema.target].status == OK)

    train, evaluation = table(paths["train"]), table(paths["evaluation"])
    distinct = {
        a.name: len(np.unique(train[a.name].values[np.isfinite(train[a.name].values)]))
        for a in schema.attributes
        if a.type == "NUMERIC"
    }
    recipe = parse_recipe(suggest_recipe(schema, train.n_rows, distinct), schema)
    space = FeatureSpace(list(recipe.outputs), schema.types)
    X = space.fit_transform(train)
    X_eval = space.transform(evaluation)
    classes, y = np.unique(
        np.asarray(train[schema.target].values, dtype=object), return_inverse=True
    )
    lookup = {c: i for i, c in enumerate(classes)}
    y_eval = np.array(
        [lookup.get(v, -1) for v in evaluation[schema.target].values], dtype=int
    )
    return X, y, X_eval, y_eval, len(classes)


def stage_sgd(size: int, work: Path) -> dict[str, Any]:
    """Train the engine's SGD and scikit-learn's on the same rows.

    Both see the engine's feature matrix of the 70 % training split; the
    metric is macro F1 on the other 30 %. scikit-learn's SGDClassifier
    (one-vs-rest, log loss, one learning rate) runs as many epochs as the
    engine ran passes, so time per pass compares (both on one thread); the
    engine trains once more on one thread per processor
    (``engine_parallel_seconds_per_pass``). The engine's first call
    (numba loading, or compiling, its loop) is timed apart, on 100 rows.
    ``engine_objective`` is the chosen model's objective on the training
    rows, to compare with the ``sgd_optimum`` stage's.
    """
    import numpy as np
    from sklearn.linear_model import SGDClassifier

    from mlpipeline.engine.metrics import macro_f1
    from mlpipeline.engine.sgd import SGDTrainer

    X, y, X_eval, y_eval, n_classes = _training_rows(work)
    l2 = SGD_L2
    started = time.perf_counter()
    SGDTrainer("softmax", l2=l2, max_passes=1).fit(X[:100], y[:100], n_classes)
    first_call = time.perf_counter() - started
    started = time.perf_counter()
    trainer = SGDTrainer("softmax", l2=l2, max_passes=10, random_state=1).fit(
        X, y, n_classes=n_classes
    )
    engine_seconds = time.perf_counter() - started
    engine_pred = (X_eval @ trainer.coef_ + trainer.intercept_).argmax(axis=1)
    # The same training with one thread per processor.
    started = time.perf_counter()
    parallel = SGDTrainer(
        "softmax", l2=l2, max_passes=10, random_state=1, threads=None
    ).fit(X, y, n_classes=n_classes)
    parallel_seconds = time.perf_counter() - started

    epochs = max(trainer.n_passes_, 1)
    reference = SGDClassifier(
        loss="log_loss", alpha=l2, max_iter=epochs, tol=None, random_state=1
    )
    started = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference.fit(X, y)
    sklearn_seconds = time.perf_counter() - started
    sklearn_pred = reference.predict(X_eval)

    labels = [str(v) for v in y_eval.tolist()]
    figures = {
        "rows": int(X.shape[0]),
        "features": int(X.shape[1]),
        "engine_seconds_per_pass": engine_seconds / trainer.n_passes_,
        "engine_parallel_seconds_per_pass": parallel_seconds / parallel.n_passes_,
        "engine_parallel_threads": parallel.threads_,
        "engine_first_call_seconds": first_call,
        "engine_passes": trainer.n_passes_,
        "engine_metric": macro_f1(labels, [str(v) for v in engine_pred.tolist()]),
        "engine_objective": _softmax_objective(
            X, y, trainer.coef_, trainer.intercept_, l2
        ),
        "engine_progressive_objective": trainer.progressive_losses_[
            trainer.learning_rate_
        ],
        "sklearn_seconds_per_pass": sklearn_seconds / epochs,
        "sklearn_metric": macro_f1(labels, [str(v) for v in sklearn_pred.tolist()]),
        "n_classes": n_classes,
        "seconds": engine_seconds,
        "learning_rates": len(trainer.learning_rates),
        "mean_nnz": float(np.diff(X.indptr).mean()),
    }
    return figures


#: Above this many training rows the converged reference takes too long
#: (about 70 s at 70,000 rows on the benchmark machine).
OPTIMUM_ROWS = 200_000


def _softmax_objective(X: Any, y: Any, coef: Any, intercept: Any, l2: float) -> float:
    """Return mean softmax loss plus ``l2 / 2 * |coef|^2`` on ``X``, ``y``.

    Rows are scored 4,096 at a time, so the stage's peak memory stays that
    of the training.
    """
    import numpy as np
    from scipy.special import logsumexp

    total = 0.0
    for start in range(0, X.shape[0], 4096):
        scores = X[start : start + 4096] @ coef + intercept
        picked = scores[np.arange(len(scores)), y[start : start + 4096]]
        total += float((logsumexp(scores, axis=1) - picked).sum())
    return total / X.shape[0] + 0.5 * l2 * float((coef**2).sum())


def stage_sgd_optimum(size: int, work: Path) -> dict[str, Any]:
    """Fit the ``sgd`` stage's objective to convergence, as its reference.

    The engine's objective (mean softmax loss plus ``l2 / 2 * |w|^2``) is
    what scikit-learn's LogisticRegression minimises with ``C = 1 / (l2 *
    n_rows)``; fit to convergence on the same rows, its objective and macro
    F1 show how close the engine's ten passes get to their own optimum. A
    stage of its own, so that its time and memory stay out of ``sgd``'s;
    skipped above ``OPTIMUM_ROWS`` training rows.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from mlpipeline.engine.metrics import macro_f1

    X, y, X_eval, y_eval, _ = _training_rows(work)
    if X.shape[0] > OPTIMUM_ROWS:
        return {"rows": int(X.shape[0]), "note": f"over {OPTIMUM_ROWS} rows"}
    l2 = SGD_L2
    labels = [str(v) for v in y_eval.tolist()]
    started = time.perf_counter()
    model = LogisticRegression(C=1 / (l2 * X.shape[0]), max_iter=2000, tol=1e-6)
    model.fit(X, y)
    seconds = time.perf_counter() - started
    predicted = model.predict(X_eval)
    coef, intercept = model.coef_.T, model.intercept_
    if coef.shape[1] == 1:
        # Two classes: one logistic column is the softmax (0, w).
        coef = np.hstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    return {
        "optimum_objective": _softmax_objective(X, y, coef, intercept, l2),
        "optimum_metric": macro_f1(labels, [str(v) for v in predicted.tolist()]),
        "optimum_iterations": int(model.n_iter_.max()),
        "rows": int(X.shape[0]),
        "seconds": seconds,
    }


def _sources(count: int) -> list[dict[str, str]]:
    """Return the source fields of the first ``count`` policies for predict."""
    from benchmarks.models import BenchPolicy

    return [
        {"number": policy.number, "issued_on": policy.issued_on.isoformat()}
        for policy in BenchPolicy.objects.order_by("pk")[:count]
    ]


def _records(count: int) -> list[dict[str, str]]:
    from benchmarks.models import BenchPolicy
    from benchmarks.pipelines import BenchPolicyPipeline
    from mlpipeline.schema import layout_for
    from mlpipeline.transform import expand_row

    layout = layout_for(BenchPolicyPipeline())
    records = []
    for policy in BenchPolicy.objects.order_by("pk")[:count]:
        row = [policy.number, policy.plan, policy.issued_on.isoformat()]
        features = expand_row(layout, row)
        record = dict(zip(layout.attribute_names, features, strict=True))
        record.pop(layout.target)
        records.append({k: v for k, v in record.items() if v})
    return records


def stage_predict(size: int, work: Path) -> dict[str, Any]:
    """Time in-process predictions: one record per call, and a batch."""
    from mlpipeline.backends import get_backend
    from mlpipeline.serving import embedded_predictor, predict, serving_run

    records = _records(2000)
    run = serving_run("bench_policy")
    predictor = embedded_predictor(run.backend, run.model_id)
    client = get_backend(run.backend).client
    model = client.get_ml_model(MLModelId=run.model_id)
    predictor.predict(records[0])
    singles = []
    for record in records:
        started = time.perf_counter()
        predictor.predict(record)
        singles.append(time.perf_counter() - started)
    batch = math.inf
    for _ in range(3):  # the best of three: one batch is one noisy sample
        started = time.perf_counter()
        predictor.predict_many(records)
        batch = min(batch, (time.perf_counter() - started) / len(records))
    # The app's own call: the registry's version check, the model's
    # description (for its threshold), the prediction and its top labels.
    served = []
    for source in _sources(len(records)):
        started = time.perf_counter()
        predict("bench_policy", source, top=3)
        served.append(time.perf_counter() - started)
    singles.sort()
    served.sort()
    return {
        "rows": len(records),
        "seconds": sum(singles),
        "p50_us": singles[len(singles) // 2] * 1e6,
        "p99_us": singles[int(len(singles) * 0.99)] * 1e6,
        "batch_us_per_record": batch * 1e6,
        "serving_p50_us": served[len(served) // 2] * 1e6,
        "serving_p99_us": served[int(len(served) * 0.99)] * 1e6,
        "model_id": model["MLModelId"],
    }


def _check_port_free(port: int) -> None:
    """Raise unless nothing listens on ``127.0.0.1:port``.

    gunicorn binds with ``SO_REUSEPORT``, which lets it share a port with
    any other server that set it too, silently: the load would be split
    between the two and the figures mixed. A plain bind fails instead.
    """
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise RuntimeError(
                f"Port {port} on 127.0.0.1 is taken ({error.strerror}); stop what "
                "listens there or set BENCH_HTTP_PORT to a free port."
            ) from error


def start_gunicorn(
    port: int, settings: dict[str, str], arguments: list[str]
) -> subprocess.Popen:
    """Start gunicorn serving the project on ``127.0.0.1:port``.

    ``settings`` are environment variables added to this process's (the
    bench's API token unless they name ``MLPIPELINE_API_TOKENS``);
    ``arguments`` go to gunicorn before the application. Raises first if
    the port is taken (see :func:`_check_port_free`).
    """
    _check_port_free(port)
    env = {**os.environ, "MLPIPELINE_API_TOKENS": HTTP_TOKEN, **settings}
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            *arguments,
            "--log-level",
            "warning",
            "project.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
    )


def stage_http(size: int, work: Path) -> dict[str, Any]:
    """Load gunicorn on 127.0.0.1 with Predict calls.

    The load comes from wrk when it is installed (a C program, so that the
    two cores go to the server, not to the load), else from Python threads
    (:func:`_load`). When wrk runs, the Python generator runs too, against
    the same server, as the reference (its figures are the ``python_``
    ones). Each generator's figures include the server's CPU time per
    request (``server_cpu_ms``: the gunicorn processes' user and system
    time over the requests answered).
    """
    from mlpipeline.serving import serving_run

    run = serving_run("bench_policy")
    records = _records(200)
    server = start_gunicorn(
        HTTP_PORT,
        {"DJANGO_SETTINGS_MODULE": "benchmarks.settings"},
        os.environ.get("BENCH_GUNICORN", GUNICORN_ARGS).split(),
    )
    wrk = shutil.which("wrk")
    try:
        url = f"/mlpipeline/realtime/{run.model_id}/"
        _wait_for(url, records[0])
        # Warm every worker up (its first request loads the model).
        _load(url, records, total=200, threads=4)
        total = int(os.environ.get("BENCH_REQUESTS", "4000"))
        started = _cpu_seconds(server.pid)
        latencies, seconds, errors = _load(url, records, total=total, threads=4)
        reference = _figures(latencies, seconds, errors)
        reference["server_cpu_ms"] = _per_request(
            _cpu_seconds(server.pid) - started, len(latencies)
        )
        if wrk is not None:
            started = _cpu_seconds(server.pid)
            result = _wrk(wrk, url, records, work)
            result["server_cpu_ms"] = _per_request(
                _cpu_seconds(server.pid) - started, result["rows"]
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    if wrk is None:
        return {"generator": "python", **reference}
    python = {f"python_{key}": value for key, value in reference.items()}
    python.pop("python_rows")
    python.pop("python_seconds")
    return {"generator": "wrk", **result, **python}


#: gunicorn's arguments in the http stage, as in the Procfile.
GUNICORN_ARGS = "--workers 2 --threads 4 --reuse-port"


def _figures(latencies: list[float], seconds: float, errors: int) -> dict[str, Any]:
    latencies = sorted(latencies)
    return {
        "rows": len(latencies),
        "seconds": seconds,
        "requests_per_second": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3,
        "errors": errors,
    }


def _wrk(wrk: str, url: str, records: list[dict], work: Path) -> dict[str, Any]:
    """Load ``url`` with wrk for BENCH_HTTP_SECONDS; return its figures.

    One wrk thread keeps BENCH_HTTP_CONNECTIONS keep-alive connections
    busy, each POSTing the records in turn (``benchmarks/http_load.lua``).
    ``errors`` counts the answers that were not a 200 and the requests
    lost to a socket error.
    """
    work.mkdir(parents=True, exist_ok=True)
    bodies = work / "http_bodies.jsonl"
    lines = (json.dumps({"Record": record}) for record in records)
    bodies.write_text("\n".join(lines) + "\n")
    seconds = os.environ.get("BENCH_HTTP_SECONDS", "5")
    connections = os.environ.get("BENCH_HTTP_CONNECTIONS", "8")
    command = [
        wrk,
        "--threads",
        "1",
        "--connections",
        connections,
        "--duration",
        f"{seconds}s",
        "--timeout",
        "10s",
        "--script",
        str(Path(__file__).with_name("http_load.lua")),
        f"http://127.0.0.1:{HTTP_PORT}{url}",
        "--",
        str(bodies),
        HTTP_TOKEN,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    summary = json.loads(output.stdout.strip().splitlines()[-1])
    seconds_taken = summary["duration_us"] / 1e6
    return {
        "rows": summary["requests"],
        "seconds": seconds_taken,
        "requests_per_second": summary["requests"] / seconds_taken,
        "p50_ms": summary["p50_us"] / 1e3,
        "p99_ms": summary["p99_us"] / 1e3,
        "errors": summary["not_ok"] + summary["socket_errors"],
        "connections": int(connections),
    }


def _cpu_seconds(pid: int) -> float:
    """Return the CPU time of process ``pid`` and its children, in seconds.

    Read from Linux's /proc (user and system time of each process whose
    parent is ``pid``); 0.0 where there is no /proc.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue  # the process ended meanwhile
        # The command name, in parentheses, may hold spaces.
        fields = text.rsplit(")", 1)[-1].split()
        own = entry.parent.name == str(pid)
        if own or fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _per_request(cpu_seconds: float, requests: int) -> float | None:
    """Return milliseconds of CPU per request; None without /proc."""
    if not cpu_seconds or not requests:
        return None
    return cpu_seconds / requests * 1e3


def _post(connection: http.client.HTTPConnection, url: str, record: dict) -> int:
    body = json.dumps({"Record": record})
    connection.request(
        "POST",
        url,
        body,
        {
            "Content-Type": "application/json",
            "Connection": "keep-alive",
            "Authorization": f"Bearer {HTTP_TOKEN}",
        },
    )
    response = connection.getresponse()
    response.read()
    return response.status


def _wait_for(url: str, record: dict) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=5)
            if _post(connection, url, record) == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on 127.0.0.1:{HTTP_PORT}")


def _load(
    url: str, records: list[dict], *, total: int, threads: int, limit: float = 60.0
) -> tuple[list[float], float, int]:
    """Send ``total`` requests from ``threads`` threads within ``limit`` s."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    per_thread = total // threads
    deadline = time.monotonic() + limit

    def worker(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=10)
        mine = []
        for i in range(per_thread):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            try:
                status = _post(connection, url, records[(offset + i) % len(records)])
            except (OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection(
                    "127.0.0.1", HTTP_PORT, timeout=10
                )
                status = 0
            mine.append(time.perf_counter() - started)
            if status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(i * 50,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return latencies, time.perf_counter() - started, errors[0]


STAGES = {
    "generate": stage_generate,
    "extract": stage_extract,
    "ref_cursor": stage_ref_cursor,
    "ref_copy": stage_ref_copy,
    "ref_instances": stage_ref_instances,
    "extract_transform": stage_extract_transform,
    "ref_csv_write": stage_ref_csv_write,
    "learn": stage_learn,
    "sgd": stage_sgd,
    "sgd_optimum": stage_sgd_optimum,
    "predict": stage_predict,
    "http": stage_http,
}
POSTGRES_ONLY = {"ref_copy"}


def child(stage: str, database: str, size: int, work: Path) -> None:
    """Run one stage and write its figures as JSON on stdout."""
    _django(database)
    work.mkdir(parents=True, exist_ok=True)
    result = STAGES[stage](size, work)
    sys.stdout.write(json.dumps(result) + "\n")


# ------------------------------------------------------------------ parent


def run_stage(stage: str, database: str, size: int, work: Path) -> dict[str, Any]:
    """Run ``stage`` in a child process; add its peak memory in MB."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--child",
        stage,
        "--databases",
        database,
        "--sizes",
        str(size),
        "--work",
        str(work),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"Stage {stage} on {database} at {size} rows failed.")
    result = json.loads(output.decode().strip().splitlines()[-1])
    # A stage that restarts the peak count reports the peak itself.
    result["peak_mb"] = max(usage.ru_maxrss / 1024, result.pop("own_peak_mb", 0))
    if result.get("seconds"):
        result["rows_per_second"] = result["rows"] / result["seconds"]
    return result


ORDER = [
    "generate",
    "extract",
    "ref_cursor",
    "ref_copy",
    "ref_instances",
    "extract_transform",
    "ref_csv_write",
    "learn",
    "sgd",
    "sgd_optimum",
    "predict",
    "http",
]


def _create_postgres_database() -> None:
    import psycopg

    name = os.environ.get("POSTGRES_DB", "mlpipeline_bench")
    with psycopg.connect(
        host=os.environ.get("POSTGRES_HOST", "127.0.0.1"),
        port=os.environ.get("POSTGRES_PORT", "5432"),
        user=os.environ.get("POSTGRES_USER", "postgres"),
        password=os.environ.get("POSTGRES_PASSWORD", ""),
        dbname="postgres",
        autocommit=True,
    ) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not found:
            connection.execute(f'CREATE DATABASE "{name}"')


def run_suite(
    sizes: list[int], databases: list[str], stages: list[str], work: Path
) -> list[dict[str, Any]]:
    """Run every stage for every database and size; return the figures."""
    results = []
    if "postgres" in databases:
        _create_postgres_database()
    for database in databases:
        for size in sizes:
            for stage in stages:
                if stage in POSTGRES_ONLY and database != "postgres":
                    continue
                result = run_stage(stage, database, size, work / database)
                result.update(stage=stage, database=database, size=size)
                results.append(result)
                _report(result)
    return results


def _report(result: dict[str, Any]) -> None:
    extras = {
        k: (round(v, 4) if isinstance(v, float) else v)
        for k, v in result.items()
        if k not in {"stage", "database", "size", "rows", "seconds", "peak_mb"}
        and k != "rows_per_second"
    }
    line = (
        f"{result['database']:8} {result['size']:>9} {result['stage']:18} "
        f"rows/s {result.get('rows_per_second', 0):>12,.0f}  "
        f"wall {result['seconds']:8.2f}s  peak {result['peak_mb']:7.1f} MB  "
        f"{json.dumps(extras)}"
    )
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def machine() -> dict[str, Any]:
    """Describe this machine: cores, CPU, memory and library versions."""
    import numpy

    cpu = ""
    with open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as file:
        memory = file.readline().split()[1]
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(int(memory) / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k", help="e.g. 100k,1M,10M")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--stages", default=",".join(ORDER))
    parser.add_argument("--work", default=str(ROOT / "var" / "bench" / "files"))
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", choices=sorted(STAGES), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    sizes = [parse_size(s) for s in options.sizes.split(",")]
    databases = options.databases.split(",")
    work = Path(options.work)
    if options.child:
        child(options.child, databases[0], sizes[0], work)
        return 0
    sys.stdout.write(json.dumps(machine()) + "\n")
    results = run_suite(sizes, databases, options.stages.split(","), work)
    if options.json:
        document = {"machine": machine(), "results": results}
        Path(options.json).write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
