"""Pre-flight: refuse a load that Amazon ML's documented limits would refuse.

:func:`check` runs before the Loader uploads anything, so a run that cannot
succeed fails in seconds instead of after an upload and two data source
jobs. It checks, from the service's limits (spec sections 3, 12.2 and 16):

* entity ids: 1-64 characters from letters, digits, ``_``, ``.`` and
  ``-``. Entity names are the pipeline's name plus fixed words, so an id
  that passes means its name passes too;
* the data schema: at most 1,000 attributes and 131,071 characters, and a
  recipe of at most 131,071 characters;
* the training parameters, when the backend asks for it (the embedded
  engine checks them itself when the model is created);
* the features files: each one's header is the schema's attributes (else
  the first column that differs is named), and no observation (line) is
  over 102,400 bytes.

The number of classes (at least two, at most 100 for MULTICLASS) is checked
by the transform step while it writes the file, earlier still.

Problems with the declaration raise
:class:`~mlpipeline.exceptions.PipelineDeclarationError`, problems with the
rows :class:`~mlpipeline.exceptions.DataError`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlpipeline.backends import Backend
from mlpipeline.engine.csvio import MAX_RECORD_BYTES
from mlpipeline.engine.errors import InvalidInputException
from mlpipeline.engine.params import parse_parameters
from mlpipeline.exceptions import DataError, PipelineDeclarationError
from mlpipeline.schema import Layout
from mlpipeline.transform import check_header

__all__ = ["MAX_ATTRIBUTES", "MAX_SCHEMA_CHARS", "check"]

MAX_ATTRIBUTES = 1000
MAX_SCHEMA_CHARS = 131071
_ID = re.compile(r"[a-zA-Z0-9_.-]{1,64}")


def check(
    backend: Backend,
    layout: Layout,
    paths: Sequence[Path],
    *,
    ids: Mapping[str, str],
    parameters: Mapping[str, str],
    recipe: str | None,
) -> None:
    """Raise if Amazon ML would refuse to load the features files ``paths``.

    ``ids`` are the entity ids the run will create, ``parameters`` and
    ``recipe`` what its model will be trained with; the parameters are
    checked only when ``backend.preflight_parameters`` is true. Reads each
    file once; creates nothing.
    """
    name = layout.pipeline
    for entity_id in ids.values():
        if not _ID.fullmatch(entity_id):
            raise PipelineDeclarationError(
                f"Pipeline {name!r} would create the entity id {entity_id!r} "
                f"({len(entity_id)} characters); Amazon ML takes ids of at most 64 "
                "letters, digits, '_', '.' and '-'. Give the pipeline a shorter "
                "name made of those characters."
            )
    _check_schema(layout, recipe)
    if backend.preflight_parameters:
        try:
            parse_parameters(dict(parameters))
        except InvalidInputException as err:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} has training parameters Amazon ML refuses: "
                f"{err} Change sgd in its declaration."
            ) from None
    for path in paths:
        _check_rows(layout, path)


def _check_schema(layout: Layout, recipe: str | None) -> None:
    name = layout.pipeline
    count = len(layout.attributes)
    if count > MAX_ATTRIBUTES:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} writes {count} attributes; Amazon ML reads at most "
            f"{MAX_ATTRIBUTES} per file. Drop fields or expander outputs."
        )
    size = len(json.dumps(layout.schema()))
    if size > MAX_SCHEMA_CHARS:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has a data schema of {size} characters; Amazon ML "
            f"takes at most {MAX_SCHEMA_CHARS}. Use fewer or shorter attribute "
            "names."
        )
    if recipe is not None and len(recipe) > MAX_SCHEMA_CHARS:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has a recipe of {len(recipe)} characters; Amazon "
            f"ML takes at most {MAX_SCHEMA_CHARS}."
        )


def _check_rows(layout: Layout, path: Path) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), None)
    check_header(layout.pipeline, path, header, layout.attribute_names)
    with open(path, "rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            size = len(line.rstrip(b"\r\n"))
            if size > MAX_RECORD_BYTES:
                raise DataError(
                    f"Pipeline {layout.pipeline!r}: line {line_no} of {path.name} "
                    f"holds {size} bytes; Amazon ML skips observations over "
                    f"{MAX_RECORD_BYTES} bytes. Shorten or exclude its longest "
                    "text values."
                )
