from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from mlpipeline.dryrun import dry_run
from mlpipeline.engine import EngineError
from mlpipeline.exceptions import MlpipelineError
from mlpipeline.learn import STEPS, learn, resume
from mlpipeline.models import Run
from mlpipeline.pipeline import Pipeline, site
from mlpipeline.split import split_paths


class Command(BaseCommand):
    help = "Retrain the declared pipelines: extract, transform and load each."

    def add_arguments(self, parser):
        parser.add_argument(
            "pipelines",
            nargs="*",
            metavar="pipeline",
            help="Names of the pipelines to run (default: all declared).",
        )
        parser.add_argument(
            "--only",
            choices=STEPS,
            help="Run only extract + transform, or only load the newest "
            "transformed run.",
        )
        parser.add_argument(
            "--resume",
            type=int,
            metavar="RUN",
            help="Continue run RUN after its last completed step.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Extract and transform into a temporary folder, then print each "
            "backend call the load would make, with its parameters as JSON; "
            "upload, create and record nothing.",
        )

    def handle(self, *args, **options):
        names = options["pipelines"]
        only = options["only"]
        resume_id = options["resume"]
        verbosity = options["verbosity"]
        if resume_id is not None:
            if names or only:
                raise CommandError("--resume takes no pipeline names and no --only.")
            return self._resume(resume_id, verbosity)

        try:
            pipelines = [site.get(name) for name in names] if names else list(site)
        except MlpipelineError as err:
            raise CommandError(err) from err
        if not pipelines:
            raise CommandError(
                "No pipeline is declared; register one in a pipelines.py module "
                "of an installed app."
            )
        if options["dry_run"]:
            if only:
                raise CommandError("--dry-run cannot be combined with --only.")
            return self._dry_run(pipelines, verbosity)

        failures = []
        for pipeline in pipelines:
            name = pipeline.get_name()
            if verbosity >= 2:
                self.stdout.write(f"{name}: starting")
            try:
                run = learn(
                    pipeline, only=only, progress=self._progress(name, verbosity)
                )
            except (MlpipelineError, EngineError, ImproperlyConfigured) as err:
                # Recorded on the run when there is one; the other pipelines
                # still run.
                self._end_progress(verbosity)
                self.stderr.write(f"{name}: {err}")
                failures.append(name)
                continue
            self._end_progress(verbosity)
            if verbosity >= 1:
                self.stdout.write(self._summary(run))

        if failures:
            raise CommandError(f"Failed: {', '.join(failures)}.", returncode=2)

    def _resume(self, run_id: int, verbosity: int) -> None:
        run = Run.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"There is no run {run_id}.")
        try:
            run = resume(run, progress=self._progress(run.pipeline, verbosity))
        except (MlpipelineError, EngineError, ImproperlyConfigured) as err:
            self._end_progress(verbosity)
            raise CommandError(f"{run.pipeline}: {err}", returncode=2) from err
        self._end_progress(verbosity)
        if verbosity >= 1:
            self.stdout.write(self._summary(run))

    def _dry_run(self, pipelines: list[Pipeline], verbosity: int) -> None:
        failures = []
        for pipeline in pipelines:
            name = pipeline.get_name()
            try:
                found = dry_run(pipeline)
            except (MlpipelineError, ImproperlyConfigured) as err:
                self.stderr.write(f"{name}: {err}")
                failures.append(name)
                continue
            if verbosity >= 1:
                rejected = (
                    f"; {found.rows_rejected} rejected" if found.rows_rejected else ""
                )
                self.stdout.write(
                    f"{name}: dry run on backend {found.backend!r}, {found.rows} rows "
                    f"({found.rows_train} train + {found.rows_evaluation} "
                    f"evaluation{rejected}); ids show run {found.run_number}, which "
                    "was not kept. Nothing was uploaded or created. The calls:"
                )
                for call in found.calls:
                    self.stdout.write(f"  {call}")
        if failures:
            raise CommandError(f"Failed: {', '.join(failures)}.", returncode=2)

    def _summary(self, run: Run) -> str:
        if run.status == Run.Status.TRANSFORMED:
            files = split_paths(Path(run.features_file))
            return self.style.SUCCESS(
                f"{run.pipeline}: run {run.pk} transformed {run.rows_written} rows "
                f"into {files['train']} and {files['evaluation']}"
            )
        baseline = "" if run.baseline is None else f" (baseline {run.baseline:.4f})"
        rejected = f"{run.rows_rejected} rejected + " if run.rows_rejected else ""
        return self.style.SUCCESS(
            f"{run.pipeline}: {run.model_type} model {run.model_id} "
            f"{run.metric_name} {run.metric_value:.4f}{baseline}; "
            f"rows {run.rows_extracted} = {rejected}{run.rows_train} train + "
            f"{run.rows_evaluation} evaluation; predictions at {run.endpoint_url}"
        )

    def _progress(self, name: str, verbosity: int):
        if verbosity < 1 or not self.stdout.isatty():
            if verbosity >= 3:
                return lambda step, rows: self.stdout.write(f"{name}: {step} {rows}")
            return None
        self._on_line = True

        def show(step: str, rows: int) -> None:
            self.stdout.write(f"\r{name}: {step} {rows:,} rows", ending="")
            self.stdout.flush()

        return show

    def _end_progress(self, verbosity: int) -> None:
        if getattr(self, "_on_line", False):
            self.stdout.write("")
            self._on_line = False
