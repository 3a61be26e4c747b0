from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError

from mlpipeline.cleanup import Cleaned, cleanup


class Command(BaseCommand):
    help = (
        "Delete the realtime endpoints, models, evaluations, data sources and "
        "uploaded files of runs whose model stopped being active more than "
        "MLPIPELINE_RETENTION ago, never the active or previous model's."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "pipelines",
            nargs="*",
            metavar="pipeline",
            help="Names of the pipelines to clean (default: every pipeline run).",
        )
        parser.add_argument(
            "--retention-days",
            type=float,
            help="Keep superseded runs this many days (default: MLPIPELINE_RETENTION).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the runs that would be cleaned and what they recorded; "
            "delete nothing.",
        )

    def handle(self, *args, **options):
        names = options["pipelines"] or None
        days = options["retention_days"]
        dry_run = options["dry_run"]
        verbosity = options["verbosity"]
        if days is not None and days < 0:
            raise CommandError(f"--retention-days must be 0 or more, not {days:g}.")

        retention = None if days is None else datetime.timedelta(days=days)
        results = cleanup(names, retention=retention, dry_run=dry_run)

        failed = [result for result in results if result.error]
        for result in results:
            if result.error:
                self.stderr.write(f"{result.run}: {result.error}")
            elif verbosity >= 2:
                self.stdout.write(self._line(result, dry_run))
        if verbosity >= 1:
            done = len(results) - len(failed)
            verb = "Would clean" if dry_run else "Cleaned"
            self.stdout.write(self.style.SUCCESS(f"{verb} {done} run(s)."))
        if failed:
            runs = ", ".join(str(result.run.pk) for result in failed)
            raise CommandError(f"Could not clean run(s) {runs}.", returncode=2)

    def _line(self, result: Cleaned, dry_run: bool) -> str:
        verb = "recorded" if dry_run else "deleted"
        what = "; ".join(
            f"{kind} {', '.join(ids)}" for kind, ids in result.deleted.items()
        )
        return f"{result.run}: {verb} {what or 'nothing'}"
