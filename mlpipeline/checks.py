"""Checks of the declarations and settings, before any run starts.

:func:`layout_for` checks the fields and types a pipeline reads;
:func:`check_pipeline` adds what the backend would refuse only after the
data is extracted and uploaded: training parameters, the recipe, the
backend alias and the chunk size. Amazon ML's own rules decide, through
the embedded engine's parsers, so both backends get the same answers.

Both run again in :func:`learn`, and :func:`check_mlpipeline` reports them
to Django's system check framework (tag ``mlpipeline``), so ``manage.py
check`` and every command that runs the checks name a bad declaration or
setting before anything runs. The ids:

========================  ==================================================
``mlpipeline.E001``       a field the model does not have (or no fields)
``mlpipeline.E002``       no target, or one that cannot be learned
``mlpipeline.E003``       an invalid schema override: ``attribute_types``,
                          ``excluded``, ``row_id``, expanders
``mlpipeline.E004``       an unknown backend, or a class that cannot be found
``mlpipeline.E005``       a backend missing a setting it needs (or refusing
                          one)
``mlpipeline.E006``       a field type mlpipeline cannot learn from (JSON,
                          bytes, files, many values per row), named as
                          ``app_label.Model.field``
``mlpipeline.E007``       training options: ``sgd``, ``recipe``,
                          ``train_percent``, ``chunk_size``, ``max_rejected``
``mlpipeline.E010``       anything else a declaration gets wrong
========================  ==================================================

Each pipeline reports its first problem; fix it and check again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from mlpipeline.backends import backend_class, get_backend
from mlpipeline.conf import settings
from mlpipeline.engine import InvalidInputException
from mlpipeline.engine.params import parse_parameters
from mlpipeline.engine.recipe import parse_recipe
from mlpipeline.engine.schema import parse_schema
from mlpipeline.exceptions import PipelineDeclarationError
from mlpipeline.load import training_parameters
from mlpipeline.pipeline import Pipeline, site
from mlpipeline.schema import Layout, layout_for

__all__ = ["check_mlpipeline", "check_pipeline"]


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
            "of rows, at least 1.",
            code="E007",
        )
    alias = pipeline.backend or settings.DEFAULT_BACKEND
    try:
        backend_class(alias)
    except ImproperlyConfigured as err:
        raise PipelineDeclarationError(
            f"Pipeline {name!r}: {err}",
            code="E004",
            hint="Name an alias of MLPIPELINE_BACKENDS in the pipeline's backend.",
        ) from err
    try:
        get_backend(alias)
    except ImproperlyConfigured as err:
        raise PipelineDeclarationError(
            f"Pipeline {name!r}: {err}", code="E005"
        ) from err

    try:
        parse_parameters(training_parameters(pipeline))
    except InvalidInputException as err:
        raise PipelineDeclarationError(
            f"Pipeline {name!r} sgd: {err}", code="E007"
        ) from err
    if pipeline.recipe is not None:
        if not isinstance(pipeline.recipe, str):
            raise PipelineDeclarationError(
                f"Pipeline {name!r} has a recipe of type "
                f"{type(pipeline.recipe).__name__}; give the recipe's JSON text.",
                code="E007",
            )
        try:
            parse_recipe(pipeline.recipe, parse_schema(json.dumps(layout.schema())))
        except InvalidInputException as err:
            raise PipelineDeclarationError(
                f"Pipeline {name!r} recipe: {err}", code="E007"
            ) from err


@checks.register("mlpipeline")
def check_mlpipeline(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Return the system check errors of the settings and every pipeline.

    With ``app_configs`` (``manage.py check <app>``), only the pipelines
    declared in those apps are checked.
    """
    found, broken = _check_backends()
    for pipeline in _pipelines(app_configs):
        try:
            check_pipeline(pipeline, layout_for(pipeline))
        except PipelineDeclarationError as err:
            alias = pipeline.backend or settings.DEFAULT_BACKEND
            if err.code in ("E004", "E005") and alias in broken:
                continue  # reported once, for the backend
            found.append(
                checks.Error(
                    err.message,
                    hint=err.hint or None,
                    obj=pipeline if err.obj is None else err.obj,
                    id=f"mlpipeline.{err.code}",
                )
            )
    return found


def _pipelines(app_configs: Sequence[AppConfig] | None) -> Iterable[Pipeline]:
    if app_configs is None:
        return list(site)
    modules = tuple(app.name for app in app_configs)
    return [
        pipeline for pipeline in site if type(pipeline).__module__.startswith(modules)
    ]


def _check_backends() -> tuple[list[checks.CheckMessage], set[str]]:
    """Return the errors of the backend settings and the aliases at fault."""
    configured = settings.BACKENDS
    default = settings.DEFAULT_BACKEND
    found: list[checks.CheckMessage] = []
    broken: set[str] = set()
    if default not in configured:
        known = ", ".join(sorted(configured)) or "none"
        found.append(
            checks.Error(
                f"MLPIPELINE_DEFAULT_BACKEND is {default!r}, which "
                f"MLPIPELINE_BACKENDS does not configure; configured: {known}.",
                hint="Set MLPIPELINE_DEFAULT_BACKEND to a configured alias, or "
                "configure it.",
                id="mlpipeline.E004",
            )
        )
        broken = {default}
    for alias in configured:
        try:
            backend_class(alias)
        except ImproperlyConfigured as err:
            found.append(checks.Error(str(err), id="mlpipeline.E004"))
            broken.add(alias)
            continue
        try:
            get_backend(alias)
        except ImproperlyConfigured as err:
            found.append(
                checks.Error(
                    f"Backend {alias!r} cannot be made: {err}",
                    hint=f"Complete MLPIPELINE_BACKENDS[{alias!r}]['OPTIONS'].",
                    id="mlpipeline.E005",
                )
            )
            broken.add(alias)
    return found, broken
