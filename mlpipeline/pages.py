"""The predictor page: type a record, see the active model's best answers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from mlpipeline.exceptions import InvalidRecord, MlpipelineError
from mlpipeline.pipeline import site
from mlpipeline.registry import active_model
from mlpipeline.schema import layout_for
from mlpipeline.serving import predict

__all__ = ["predictor"]

#: Answers the page shows.
TOP = 3


@login_required  # to the project's LOGIN_URL, which admits non-staff users
def predictor(request: HttpRequest, pipeline: str) -> HttpResponse:
    """Show the predictor page of ``pipeline``.

    The form has one field per extracted column except the target; once
    posted, the record goes to :func:`~mlpipeline.serving.predict`, which
    expands it as the API and the transform do, and the page
    shows the active model's top three labels with their scores (or its
    value). Only signed-in users holding ``mlpipeline.predict`` see it.
    """
    if not request.user.has_perm("mlpipeline.predict"):
        raise PermissionDenied
    try:
        declared = site.get(pipeline)
    except MlpipelineError as err:
        raise Http404(str(err)) from err
    layout = layout_for(declared)
    names = [name for name in layout.columns if name != layout.target]
    given = {name: request.POST.get(name, "").strip() for name in names}
    context: dict[str, Any] = {
        "pipeline": layout.pipeline,
        "fields": [{"name": name, "value": given[name]} for name in names],
        "value": None,
    }
    try:
        context["model"] = active_model(layout.pipeline)
    except MlpipelineError as err:
        context["error"] = str(err)
    if request.method == "POST":
        try:
            prediction = predict(layout.pipeline, given, top=TOP)
        except InvalidRecord as err:
            # Shown beside the field whose value was rejected.
            for item in context["fields"]:
                if item["name"] == err.attribute:
                    item["error"] = str(err)
        except MlpipelineError as err:
            context["error"] = str(err)
        else:
            context["answers"] = [
                {**answer, "percent": round(100 * answer["score"], 1)}
                for answer in prediction["topLabels"]
            ]
            context["value"] = prediction.get("predictedValue")
    return render(request, "mlpipeline/predictor.html", context)
