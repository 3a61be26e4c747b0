"""Checks of a declaration against its backend, before any run starts.

:func:`layout_for` checks the fields and types a pipeline reads;
:func:`check_pipeline` adds what the backend would refuse only after the
data is extracted and uploaded: training parameters, the recipe, the
backend alias and the chunk size. Amazon ML's own rules decide, through
the embedded engine's parsers, so both backends get the same answers.
"""

from __future__ import annotations

import json

from django.core.exceptions import ImproperlyConfigured

from mlpipeline.backends import get_backend
from mlpipeline.engine import InvalidInputException
from mlpipeline.engine.params import parse_parameters
from mlpipeline.engine.recipe import parse_recipe
from mlpipeline.engine.schema import parse_schema
from mlpipeline.exceptions import PipelineDeclarationError
from mlpipeline.load import training_parameters
from mlpipeline.pipeline import Pipeline
from mlpipeline.schema import Layout

__all__ = ["check_pipeline"]


def check_pipeline(pipeline: Pipeline, layout: Layout) -> None:
    """Raise :class:`PipelineDeclarationError` for what the backend refuses."""
    name = layout.pipeline
    chunk_size = pipeline.chunk_size
    if chunk_size is not None and (
        not isinstance(chunk_size, int)
        or isinstance(chunk_size, bool)
        or chunk_size < 1
    ):
        raise PipelineDeclarationError(
            f"Pipeline {name!r} has chunk_size {chunk_size!r}; use a whole number "
            "of rows, at least 1."
        )
    try:
        get_backend(pipeline.backend)
    except ImproperlyConfigured as err:
        raise PipelineDeclarationError(f"Pipeline {name!r}: {err}") from err

    try:
        parse_parameters(training_parameters(pipeline))
    except InvalidInputException as err:
        raise PipelineDeclarationError(f"Pipeline {name!r} sgd: {err}") from err
    if pipeline.recipe is not None:
        if not isinstance(pipeline.recipe, str):
            raise PipelineDeclarationError(
                f"Pipeline {name!r} has a recipe of type "
                f"{type(pipeline.recipe).__name__}; give the recipe's JSON text."
            )
        try:
            parse_recipe(pipeline.recipe, parse_schema(json.dumps(layout.schema())))
        except InvalidInputException as err:
            raise PipelineDeclarationError(f"Pipeline {name!r} recipe: {err}") from err
