"""The evaluation report of a trained model, as HTML for the admin.

It shows the metric against its baseline and, for classifiers, the
confusion matrix of the evaluation data as a heat map (rows are true
labels, columns predicted ones, each cell shaded by its share of the row)
with each class's F1 beside it. A BINARY model's report adds its score
threshold and a bar chart of the evaluation records' scores, per true
class, with the threshold marked; a REGRESSION model's a bar chart of its
residuals (true minus predicted), with zero marked. The charts are inline
SVG drawn from the histogram recorded with the model
(:attr:`mlpipeline.models.TrainedModel.distribution`), so the page reads no
file and loads no script.
"""

from __future__ import annotations

from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

__all__ = ["distribution_html", "evaluation_html", "per_class_f1"]

#: The charts' size in pixels, and the room left around the bars for labels.
_WIDTH, _HEIGHT, _MARGIN = 480, 170, 28
#: Bar colours: records whose true class is 0 and 1; residuals.
_COLOURS = {"0": "#4f6fd6", "1": "#e08a2c", "residual": "#4f6fd6"}
_NAMES = {"BINARY": "score distribution", "REGRESSION": "residual distribution"}


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


def evaluation_html(
    report: dict[str, Any] | None,
    model_type: str,
    distribution: dict[str, Any] | None = None,
) -> SafeString:
    """Return the report ``report`` (an evaluation's Report) as HTML.

    ``distribution`` is the model's recorded histogram, drawn for BINARY
    and REGRESSION models; without one, the report says why there is none.
    """
    if not report:
        # TODO: Amazon ML's evaluations give the metric alone, so Amazon
        # models show no confusion matrix and no distribution. A
        # BatchPrediction over the evaluation data source, its output read
        # back from S3 and matched line by line to the evaluation file's
        # targets, would give both, at Amazon's batch price on every run.
        name = _NAMES.get(model_type, "confusion matrix")
        return format_html(
            '<p class="metric-only">{}</p>',
            "The backend reported the metric alone (Amazon ML's evaluations give "
            f"nothing more), so this report shows no {name}.",
        )
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
    if model_type in _NAMES:
        parts.append(distribution_html(distribution, model_type))
    return format_html_join("", "{}", ((part,) for part in parts))


def distribution_html(
    distribution: dict[str, Any] | None, model_type: str
) -> SafeString:
    """Return the chart of a recorded score or residual histogram.

    ``distribution`` is what the engine's evaluation reports under
    ``histogram`` (see :func:`mlpipeline.engine.metrics.score_histogram`
    and :func:`~mlpipeline.engine.metrics.residual_histogram`).
    """
    if not distribution:
        return format_html(
            '<p class="no-distribution">{}</p>',
            f"No {_NAMES[model_type]} was recorded for this model: it was "
            "evaluated before mlpipeline recorded them.",
        )
    edges = distribution["edges"]
    if distribution["kind"] == "score":
        series = [
            (f"true {label}", counts, _COLOURS[label])
            for label, counts in sorted(distribution["counts"].items())
        ]
        threshold = distribution["threshold"]
        marker = (f"threshold {_label(threshold)}", threshold)
        caption = format_html(
            "Scores of the {} evaluation records by true class, threshold {}.",
            sum(map(sum, distribution["counts"].values())),
            _label(distribution["threshold"]),
        )
    else:
        series = [("residuals", distribution["counts"], _COLOURS["residual"])]
        marker = ("0", 0.0)
        caption = format_html(
            "Residuals (true minus predicted) of the {} evaluation records, mean "
            "{}; {} below {} and {} above {} are not drawn.",
            sum(distribution["counts"]) + distribution["below"] + distribution["above"],
            _label(distribution["mean"]),
            distribution["below"],
            _label(edges[0]),
            distribution["above"],
            _label(edges[-1]),
        )
    return format_html(
        '<figure class="distribution" data-kind="{}">{}<figcaption>{}'
        "</figcaption></figure>",
        distribution["kind"],
        _bar_chart(edges, series, marker),
        caption,
    )


def _bar_chart(
    edges: list[float],
    series: list[tuple[str, list[int], str]],
    marker: tuple[str, float],
) -> SafeString:
    """Return an SVG bar chart: per bin, one bar of each series side by side.

    Bars are scaled to the largest count; ``marker`` (a label and a value)
    is drawn as a dashed vertical line with its label above.
    """
    low, high = edges[0], edges[-1]
    plot_width, plot_height = _WIDTH - 2 * _MARGIN, _HEIGHT - 2 * _MARGIN
    tallest = max((max(counts) for _, counts, _ in series), default=0) or 1

    def x(value: float) -> float:
        return _MARGIN + (value - low) / (high - low) * plot_width

    bars = []
    for position, (name, counts, colour) in enumerate(series):
        for index, count in enumerate(counts):
            left, right = x(edges[index]), x(edges[index + 1])
            width = (right - left) / len(series)
            height = count / tallest * plot_height
            bars.append(
                (
                    f"{left + position * width:.1f}",
                    f"{_MARGIN + plot_height - height:.1f}",
                    f"{max(width - 1, 1):.1f}",
                    f"{height:.1f}",
                    colour,
                    f"{_label(edges[index])} to {_label(edges[index + 1])}: "
                    f"{count} ({name})",
                )
            )
    label, value = marker
    line_x = f"{x(value):.1f}"
    base = _MARGIN + plot_height
    return format_html(
        '<svg class="bar-chart" role="img" width="{}" height="{}" '
        'viewBox="0 0 {} {}" xmlns="http://www.w3.org/2000/svg">'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#888"/>{}'
        '<line class="marker" x1="{}" y1="{}" x2="{}" y2="{}" stroke="#c00" '
        'stroke-dasharray="4 3"/>'
        '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#c00">'
        "{}</text>"
        '<text x="{}" y="{}" font-size="11">{}</text>'
        '<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" font-size="11">{}</text>{}</svg>',
        _WIDTH, _HEIGHT, _WIDTH, _HEIGHT,
        _MARGIN, base, _WIDTH - _MARGIN, base,
        format_html_join(
            "",
            '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}">'
            "<title>{}</title></rect>",
            bars,
        ),
        line_x, _MARGIN - 6, line_x, base,
        line_x, _MARGIN - 10, label,
        _MARGIN, base + 16, _label(low),
        _WIDTH - _MARGIN, base + 16, _label(high),
        2, _MARGIN - 10, f"{tallest} records",
        _legend(series),
    )  # fmt: skip


def _legend(series: list[tuple[str, list[int], str]]) -> SafeString:
    if len(series) < 2:
        return SafeString("")
    return format_html_join(
        "",
        '<rect x="{}" y="6" width="10" height="10" fill="{}"/>'
        '<text x="{}" y="15" font-size="11">{}</text>',
        (
            (_WIDTH - 150 + 70 * i, colour, _WIDTH - 136 + 70 * i, name)
            for i, (name, _, colour) in enumerate(series)
        ),
    )


def _label(value: float) -> str:
    return f"{value:.3g}"


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
