from django.core.management.base import BaseCommand, CommandError

from project.demo.datasets import LOADERS, load_policies


class Command(BaseCommand):
    help = "Fill the demo tables from public data sets (replacing their rows)."

    def add_arguments(self, parser):
        parser.add_argument(
            "tables",
            nargs="*",
            metavar="table",
            help=f"Tables to fill: {', '.join(LOADERS)} (default: all).",
        )
        parser.add_argument(
            "--policies",
            type=int,
            default=50_000,
            help="How many policy numbers to generate (default: 50000).",
        )

    def handle(self, *args, **options):
        tables = options["tables"] or list(LOADERS)
        policies = options["policies"]
        unknown = sorted(set(tables) - set(LOADERS))
        if unknown:
            choices = ", ".join(LOADERS)
            raise CommandError(
                f"Unknown table(s) {', '.join(unknown)}; choose from {choices}."
            )
        if policies < 1:
            raise CommandError(f"--policies must be at least 1, not {policies}.")

        for table in tables:
            if table == "policies":
                count = load_policies(policies)
            else:
                count = LOADERS[table]()
            if options["verbosity"] >= 1:
                self.stdout.write(f"{table}: {count} rows")
