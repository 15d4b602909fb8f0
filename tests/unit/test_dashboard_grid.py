"""infra.tools.dashboard_grid: the SVG of a dashboard body, and the committed picture of prod's."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from infra.tools import ROOT
from infra.tools.dashboard_grid import COLUMN_PX, ROW_PX, _layout, body_from_template, render_svg, render_template

SVG = "{http://www.w3.org/2000/svg}"
PICTURE = ROOT / "docs" / "dashboard-prod.svg"


def _metric(title: str, n: int = 1, **position: int) -> dict[str, Any]:
    return {"type": "metric", **position, "properties": {"title": title, "metrics": [["NS", f"M{i}"] for i in range(n)]}}


def _widgets(svg: str) -> list[tuple[str, dict[str, str], list[str]]]:
    """Each widget group's tooltip, rectangle attributes and texts (title, tag, count)."""
    root = ET.fromstring(svg)
    (grid,) = root.findall(f"{SVG}g")
    return [
        (g.findtext(f"{SVG}title") or "", g.find(f"{SVG}rect").attrib, [t.text or "" for t in g.findall(f"{SVG}text")])  # type: ignore[union-attr]
        for g in grid.findall(f"{SVG}g")
    ]


def _cells(svg: str) -> list[tuple[int, int, int, int]]:
    """Each widget rectangle back in grid units (x, y, width, height)."""
    out = []
    for _, rect, _ in _widgets(svg):
        x, y, w, h = (float(rect[k]) for k in ("x", "y", "width", "height"))
        out.append((round(x / COLUMN_PX), round(y / ROW_PX), round((w + 4) / COLUMN_PX), round((h + 4) / ROW_PX)))
    return out


def test_explicit_positions_are_drawn_where_they_are() -> None:
    body = {
        "widgets": [
            _metric("Requests", 4, x=0, y=0, width=8, height=5),
            _metric("Latency", 6, x=16, y=0, width=8, height=5),
            {"type": "alarm", "x": 4, "y": 7, "width": 12, "height": 3, "properties": {"title": "Alarms", "alarms": ["a", "b"]}},
        ]
    }
    svg = render_svg(body, title="t")
    assert _cells(svg) == [(0, 0, 8, 5), (16, 0, 8, 5), (4, 7, 12, 3)]
    (requests, latency, alarms) = _widgets(svg)
    assert requests[2] == ["Requests", "metric", "4 metrics"]
    assert latency[2] == ["Latency", "metric", "6 metrics"]
    assert alarms[2] == ["Alarms", "alarm", "2 alarms"]
    assert len({w[1]["fill"] for w in (requests, alarms)}) == 2, "a fill per type"
    root = ET.fromstring(svg)
    assert root.attrib["width"] == str(24 * COLUMN_PX + 32) and root.attrib["version"] == "1.1"


def test_widgets_without_positions_flow_left_to_right_and_wrap_at_24_columns() -> None:
    body = {"widgets": [_metric(f"w{i}", width=10, height=4) for i in range(3)] + [{"type": "metric", "properties": {"title": "default"}}]}
    # 10 + 10 fit in a row, the third wraps below; the 6x6 default fits beside it.
    assert _cells(render_svg(body, title="t")) == [(0, 0, 10, 4), (10, 0, 10, 4), (0, 4, 10, 4), (10, 4, 6, 6)]


def test_auto_layout_goes_around_positioned_widgets_and_never_back_up() -> None:
    widgets = [
        {"type": "text", "width": 6, "height": 1, "properties": {"markdown": "a"}},
        {"type": "text", "x": 6, "y": 0, "width": 18, "height": 2, "properties": {"markdown": "fixed"}},
        {"type": "text", "width": 24, "height": 1, "properties": {"markdown": "full row"}},
        {"type": "text", "width": 6, "height": 1, "properties": {"markdown": "after"}},
    ]
    # (0, 1) is free beside the fixed widget but the full row doesn't fit there; the next widget
    # follows it instead of filling the gap at (0, 1) above it.
    assert _layout(widgets) == [(0, 0, 6, 1), (6, 0, 18, 2), (0, 2, 24, 1), (0, 3, 6, 1)]


def test_a_text_widget_is_titled_by_its_first_heading_as_plain_text() -> None:
    markdown = "intro line\n\n### SQS Queue **[Karpenter queue](https://console.aws.amazon.com/sqs/REF)**\nmore"
    body = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 24, "height": 1, "properties": {"markdown": markdown}}]}
    ((tooltip, _, texts),) = _widgets(render_svg(body, title="t"))
    assert texts == ["SQS Queue Karpenter queue", "text"]
    assert tooltip == "text: SQS Queue Karpenter queue"
    plain = {"widgets": [{"type": "text", "width": 24, "height": 2, "properties": {"markdown": "\n  first *line*\nsecond"}}]}
    assert _widgets(render_svg(plain, title="t"))[0][2] == ["first line", "text"]


def test_long_titles_are_cut_to_fit_with_the_full_title_as_tooltip() -> None:
    long = "Quota tokens per minute across every inference profile in the source Region"
    ((tooltip, _, texts),) = _widgets(render_svg({"widgets": [_metric(long, 2, x=0, y=0, width=4, height=5)]}, title="t"))
    assert texts[0].endswith("\u2026") and long.startswith(texts[0][:-1]) and len(texts[0]) < 20
    assert tooltip == f"metric: {long}"


def test_a_one_row_metric_widget_keeps_its_count_in_the_tag() -> None:
    ((_, _, texts),) = _widgets(render_svg({"widgets": [_metric("Flows", 3, x=0, y=0, width=12, height=1)]}, title="t"))
    assert texts == ["Flows", "metric 3"]


def test_titles_are_escaped() -> None:
    svg = render_svg({"widgets": [_metric("p50 < 5 ms & > 1 ms", x=0, y=0, width=24, height=6)]}, title='Dash <"prod"> & co')
    assert "p50 &lt; 5 ms &amp; &gt; 1 ms" in svg
    root = ET.fromstring(svg)
    assert root.findtext(f"{SVG}title") == 'Dash <"prod"> & co'
    assert _widgets(svg)[0][2][0] == "p50 < 5 ms & > 1 ms"


def test_output_is_deterministic_plain_ascii_svg() -> None:
    body = {"widgets": [_metric("Caf\u00e9 \u2013 latency", 2), {"type": "text", "properties": {"markdown": "# Head"}}, {"type": "log"}]}
    first = render_svg(body, title="t")
    assert first == render_svg(body, title="t")
    assert first.isascii() and first.endswith("</svg>\n")
    assert "Caf&#233; &#8211; latency" in first
    for forbidden in ("<script", "<image", "<style", "@font-face", "href", "e+", "e-0"):
        assert forbidden not in first
    root = ET.fromstring(first)
    assert root.tag == f"{SVG}svg"
    assert [w[2][1] for w in _widgets(first)] == ["metric", "text", "log"]


def test_an_empty_dashboard_is_a_header_only() -> None:
    root = ET.fromstring(render_svg({"widgets": []}, title="empty"))
    assert root.attrib["height"] == str(56 + 16 + 16)


@pytest.mark.parametrize(
    ("widget", "message"),
    [
        ({"type": "metric", "x": 20, "y": 0, "width": 8}, "past the 24-column grid"),
        ({"type": "metric", "x": 0}, "has x without y"),
        ({"type": "metric", "width": 25}, "widgets[0].width: 25 is not an integer 1-24"),
        ({"type": "metric", "x": 0, "y": -1}, "widgets[0].y: -1 is not an integer >= 0"),
    ],
)
def test_widgets_cloudwatch_would_reject_raise(widget: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        render_svg({"widgets": [widget]}, title="t")


def test_body_from_template_resolves_joins_and_needs_one_dashboard() -> None:
    body = {"Fn::Join": ["", ['{"widgets":[{"type":"text","properties":{"markdown":"', {"Ref": "AWS::Region"}, '"}}]}']]}
    template = {"Resources": {"D": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {"DashboardBody": body}}}}
    assert body_from_template(template) == {"widgets": [{"type": "text", "properties": {"markdown": "REF"}}]}
    with pytest.raises(ValueError, match="found 0"):
        body_from_template({"Resources": {}})
    with pytest.raises(ValueError, match=r"found 2 \(A, D\)"):
        body_from_template({"Resources": {**template["Resources"], "A": template["Resources"]["D"]}})


def test_the_committed_prod_picture_is_current(synth) -> None:
    expected = render_template(synth("prod").template_json("observability"), env="prod")
    assert PICTURE.is_file(), "docs/dashboard-prod.svg is missing; run python -m infra.tools.dashboard_grid --env prod"
    assert PICTURE.read_text(encoding="ascii") == expected, (
        "docs/dashboard-prod.svg is stale (the prod dashboard changed); run python -m infra.tools.dashboard_grid --env prod"
    )


def test_a_promql_chart_is_tagged_with_its_query_count() -> None:
    chart = {
        "type": "chart",
        "x": 0,
        "y": 0,
        "width": 8,
        "height": 6,
        "properties": {"title": "TTFT (s)", "data": {"queries": [{"id": "q0", "query": "a"}, {"id": "q1", "query": "b"}]}},
    }
    ((tooltip, _, texts),) = _widgets(render_svg({"widgets": [chart]}, title="t"))
    assert texts == ["TTFT (s)", "PromQL", "2 queries"]
    assert tooltip == "PromQL: TTFT (s)"
