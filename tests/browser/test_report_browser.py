"""A model's score or residual chart, drawn by Chromium in the admin."""

import pytest

from mlpipeline.learn import learn
from tests.test_report import AgePipeline, InsurancePipeline

pytestmark = pytest.mark.django_db(transaction=True)


def drawn_bars(page):
    """Return the rendered size of every bar of the chart, in pixels."""
    return page.eval_on_selector_all(
        "figure.distribution rect.bar",
        "bars => bars.map(bar => {"
        " const box = bar.getBoundingClientRect();"
        " return [box.width, box.height]; })",
    )


@pytest.mark.parametrize(
    ("pipeline", "kind", "bars", "marker"),
    [
        (InsurancePipeline, "score", 40, "threshold 0.5"),
        (AgePipeline, "residual", 20, "0"),
    ],
)
def test_the_model_page_draws_its_distribution(
    live_server, page, screenshot, sign_in, insured_rows, pipeline, kind, bars, marker
):
    model = learn(pipeline()).trained_model
    distribution = model.distribution

    sign_in(f"/admin/mlpipeline/trainedmodel/{model.pk}/change/")
    page.wait_for_selector("figure.distribution svg")

    figure = page.locator("figure.distribution")
    assert figure.get_attribute("data-kind") == kind
    sizes = drawn_bars(page)
    assert len(sizes) == bars
    counts = distribution["counts"]
    flat = [*counts["0"], *counts["1"]] if kind == "score" else counts
    # Every bar is on screen; the tallest counts draw 114 pixels high and
    # empty bins none.
    assert all(width > 0 for width, _ in sizes)
    tallest = max(flat)
    for (_, height), count in zip(sizes, flat, strict=True):
        assert height == pytest.approx(count / tallest * 114, abs=0.1)
    box = figure.locator("svg").bounding_box()
    assert (box["width"], box["height"]) == (480, 170)
    assert page.locator("figure.distribution line.marker").count() == 1
    assert marker in figure.inner_text()
    screenshot(f"admin-{kind}-distribution")
