"""The evaluation report of a trained model, as HTML for the admin.

It shows the metric against its baseline and, for classifiers, the
confusion matrix of the evaluation data as a heat map (rows are true
labels, columns predicted ones, each cell shaded by its share of the row)
with each class's F1 beside it; for BINARY models the score threshold too.
"""

from __future__ import annotations

from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

__all__ = ["evaluation_html", "per_class_f1"]


def per_class_f1(labels: list[str], matrix: list[list[int]]) -> dict[str, float]:
    """Return each label's F1 from a confusion matrix.

    ``matrix`` has a row per true label and a column per predicted label,
    both in ``labels`` order; a label never true nor predicted scores 0.
    """
    scores = {}
    for index, label in enumerate(labels):
        hits = matrix[index][index]
        predicted = sum(row[index] for row in matrix)
        actual = sum(matrix[index])
        denominator = predicted + actual
        scores[label] = 2 * hits / denominator if denominator else 0.0
    return scores


def _shade(share: float) -> str:
    # From white (0) to a saturated blue (1); text turns white when dark.
    level = round(255 - 180 * share)
    colour = "#fff" if share > 0.6 else "#000"
    return f"background: rgb({level}, {level}, 255); color: {colour}"


def evaluation_html(report: dict[str, Any] | None, model_type: str) -> SafeString:
    """Return the report ``report`` (an evaluation's Report) as HTML."""
    if not report:
        return format_html("<p>{}</p>", "The backend returned no report.")
    parts = [
        format_html(
            "<p>{} {} against a baseline of {} on {} records.</p>",
            report.get("metric", ""),
            _number(report.get("value")),
            _number(report.get("baseline")),
            report.get("records", "?"),
        )
    ]
    if "score_threshold" in report:
        parts.append(
            format_html("<p>Score threshold: {}</p>", report["score_threshold"])
        )
    matrix = report.get("confusion_matrix")
    if matrix:
        parts.append(_heat_map(matrix["labels"], matrix["matrix"]))
    if model_type == "REGRESSION":
        parts.append(
            format_html(
                "<p>{}</p>",
                "The residual distribution is not recorded yet.",
            )
        )
    return format_html_join("", "{}", ((part,) for part in parts))


def _heat_map(labels: list[str], matrix: list[list[int]]) -> SafeString:
    f1 = per_class_f1(labels, matrix)
    head = format_html_join("", "<th>{}</th>", ((label,) for label in labels))
    rows = []
    for label, row in zip(labels, matrix, strict=True):
        total = sum(row) or 1
        cells = format_html_join(
            "",
            '<td style="{}">{}</td>',
            ((_shade(count / total), count) for count in row),
        )
        rows.append(
            format_html(
                '<tr><th>{}</th>{}<td class="f1" style="{}">{}</td></tr>',
                label,
                cells,
                _shade(f1[label]),
                f"{f1[label]:.3f}",
            )
        )
    body = format_html_join("", "{}", ((row,) for row in rows))
    return format_html(
        '<table class="confusion-matrix"><thead><tr><th>true \\ predicted</th>'
        "{}<th>F1</th></tr></thead><tbody>{}</tbody></table>",
        head,
        body,
    )


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"
