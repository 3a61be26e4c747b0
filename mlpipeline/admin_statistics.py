"""Data source statistics on the admin pages of runs and trained models.

The embedded engine computes Amazon ML's data source statistics (see
:mod:`mlpipeline.engine.statistics`): record counts, the target's
distribution and, per attribute, missing and invalid values, its
correlation to the target and a summary by type. A run records them on its
data source steps and a trained model keeps them; :class:`StatisticsAdmin`
adds them, rendered by ``mlpipeline/admin/statistics.html``, below the
fields of both admin pages. Backends that return no statistics (Amazon ML's
API has none) show a sentence saying so.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

__all__ = ["StatisticsAdmin", "statistics_html"]

_KINDS = (("train", "Training data"), ("evaluation", "Evaluation data"))
_BAR_WIDTH = 60


def _histogram(histogram: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one bar per bin: its range, count and width in pixels."""
    counts = histogram.get("counts") or []
    edges = histogram.get("edges") or []
    tallest = max(counts, default=0) or 1
    return [
        {
            "low": _number(edges[i]),
            "high": _number(edges[i + 1]),
            "count": count,
            "width": round(_BAR_WIDTH * count / tallest),
        }
        for i, count in enumerate(counts)
        if i + 1 < len(edges)
    ]


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.6g}"


def _ranked(items: list[dict[str, Any]]) -> str:
    return ", ".join(f"{item['value']} ({item['count']})" for item in items)


def _summary(entry: dict[str, Any]) -> str:
    """Return one attribute's type-specific statistics as a sentence."""
    kind = entry.get("type")
    if kind == "NUMERIC":
        return (
            f"min {_number(entry.get('min'))}, median {_number(entry.get('median'))}, "
            f"mean {_number(entry.get('mean'))}, max {_number(entry.get('max'))}; "
            f"{entry.get('distinct', 0)} distinct values"
        )
    if kind == "TEXT":
        words = entry.get("words_per_record") or {}
        lengths = entry.get("word_lengths") or {}
        return (
            f"{entry.get('total_words', 0)} words, {entry.get('unique_words', 0)} "
            f"distinct; {_number(words.get('min'))} to {_number(words.get('max'))} "
            f"words a record of {_number(lengths.get('min'))} to "
            f"{_number(lengths.get('max'))} characters; most frequent: "
            f"{_ranked(entry.get('top_words') or [])}"
        )
    share = entry.get("percent_true")
    true = "" if share is None else f", {share:.1f}% true"
    return (
        f"{entry.get('distinct', 0)} distinct values{true}; most frequent: "
        f"{_ranked(entry.get('top_values') or [])}"
    )


def _attributes(statistics: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, entry in (statistics.get("attributes") or {}).items():
        correlation = entry.get("correlation")
        rows.append(
            {
                "name": name,
                "type": entry.get("type"),
                "count": entry.get("count"),
                "missing": entry.get("missing"),
                "invalid": entry.get("invalid"),
                "correlation": "-" if correlation is None else f"{correlation:.3f}",
                "summary": _summary(entry),
                "bars": _histogram(entry.get("histogram") or {}),
            }
        )
    return rows


def statistics_html(statistics: dict[str, Any] | None) -> SafeString:
    """Return the statistics of a run's or model's data sources as HTML.

    ``statistics`` maps ``"train"`` and ``"evaluation"`` to what the
    backend returned for each data source (``None`` when it had none).
    """
    sources = []
    for kind, title in _KINDS:
        found = (statistics or {}).get(kind)
        if found is None:
            continue
        sources.append(
            {
                "title": title,
                "records": found.get("records") or {},
                "target": found.get("target"),
                "attributes": _attributes(found),
            }
        )
    return render_to_string("mlpipeline/admin/statistics.html", {"sources": sources})


def _statistics_of(obj: Any) -> dict[str, Any]:
    """Return the data source statistics of a TrainedModel or a Run."""
    if hasattr(obj, "statistics"):
        return obj.statistics or {}
    steps = obj.steps.filter(name__in=[f"{kind}_datasource" for kind, _ in _KINDS])
    return {
        step.name.removesuffix("_datasource"): step.detail.get("statistics")
        for step in steps
    }


class StatisticsAdmin(admin.ModelAdmin):
    """Add a "Data source statistics" section below a run or model's fields.

    The section comes from the change form's ``after_field_sets`` block,
    so it needs no entry in the admin's fields or fieldsets.
    """

    change_form_template = "mlpipeline/admin/change_form_statistics.html"

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None:
            context["data_source_statistics"] = statistics_html(_statistics_of(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)
