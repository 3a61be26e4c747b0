from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from django.core.management.base import BaseCommand, CommandError

from mlpipeline.backends import get_backend
from mlpipeline.backends.embedded import EmbeddedBackend
from mlpipeline.conf import settings
from mlpipeline.exceptions import MlpipelineError
from mlpipeline.extract import iter_rows
from mlpipeline.pipeline import Pipeline, site
from mlpipeline.schema import format_value, layout_for
from mlpipeline.serving import serving_run
from mlpipeline.transform import expand_row


class Command(BaseCommand):
    help = (
        "Send each pipeline's serving endpoint real rows over HTTP and show "
        "each answer beside the true value."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "pipelines", nargs="*", metavar="pipeline", help="Default: all."
        )
        parser.add_argument(
            "--rows", type=int, default=1, help="Rows per pipeline (default: 1)."
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            help="Seconds to keep retrying while the server does not answer.",
        )
        parser.add_argument(
            "--token",
            help="Bearer token for the embedded endpoints (default: the first "
            "of MLPIPELINE_API_TOKENS).",
        )

    def handle(self, *args, **options):
        names = options["pipelines"]
        rows = options["rows"]
        wait = options["wait"]
        token = options["token"] or next(iter(settings.API_TOKENS), None)
        if rows < 1:
            raise CommandError(f"--rows must be at least 1, not {rows}.")

        try:
            pipelines = [site.get(name) for name in names] if names else list(site)
            for pipeline in pipelines:
                self._ask(pipeline, rows, wait, token)
        except MlpipelineError as err:
            raise CommandError(err) from err

    def _ask(
        self, pipeline: Pipeline, rows: int, wait: float, token: str | None
    ) -> None:
        layout = layout_for(pipeline)
        run = serving_run(layout.pipeline)
        backend = get_backend(run.backend)
        queryset = pipeline.get_queryset().order_by("pk")[:rows]
        for row in iter_rows(pipeline, layout, queryset, chunk_size=rows):
            # iter_rows leaves numbers as they are; the CSV writer or this
            # turns them into the same text.
            cells = [format_value(value) for value in row]
            record = dict(
                zip(layout.attribute_names, expand_row(layout, cells), strict=True)
            )
            truth = record.pop(layout.target)
            if isinstance(backend, EmbeddedBackend):
                if not token:
                    raise CommandError(
                        "The embedded endpoints answer only callers with a token; "
                        "set MLPIPELINE_API_TOKENS or pass --token."
                    )
                body = {"MLModelId": run.model_id, "Record": record}
                answer = _post(run.endpoint_url, body, token, wait)
            else:
                # Amazon ML's endpoints take only requests signed by boto3.
                prediction = backend.predict(run.model_id, record, run.endpoint_url)
                answer = {"Prediction": prediction}
            self.stdout.write(
                f"{layout.pipeline}: {run.endpoint_url} answered "
                f"{_describe(answer['Prediction'])}; true value {truth!r}"
            )


def _describe(prediction: dict) -> str:
    """Return the answer in a line: the value, or the label and best scores."""
    if "predictedValue" in prediction:
        return f"{prediction['predictedValue']:.4g}"
    scores = sorted(prediction["predictedScores"].items(), key=lambda item: -item[1])
    best = ", ".join(f"{label!r} {score:.3f}" for label, score in scores[:3])
    return f"{prediction['predictedLabel']!r} (scores: {best})"


def _post(url: str, body: dict, token: str, wait: float) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
        },
        method="POST",
    )
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as err:
            raise CommandError(
                f"{url} answered {err.code}: {err.read().decode()[:500]}"
            ) from err
        except urllib.error.URLError as err:
            if time.monotonic() >= deadline:
                raise CommandError(f"{url} does not answer: {err.reason}") from err
            time.sleep(0.5)
