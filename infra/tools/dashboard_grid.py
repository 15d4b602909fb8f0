"""Draw an environment's CloudWatch dashboard layout (the widget grid) as an SVG, for the README.

    python -m infra.tools.dashboard_grid [--env prod] [--out docs/dashboard-<env>.svg] [--check]

Synthesizes the environment in-process (offline, as ``make synth`` does), reads the dashboard from
``inference-<env>-observability.template.json`` and writes one rectangle per widget on the
24-column grid: its title, a tag for its type and, for metric widgets, how many metric rows (math
expressions included) it graphs; for PromQL chart widgets, how many queries. ``--check`` writes
nothing and exits 1 when the file differs from what would be written. Problems print one ``error:
<where>: <problem>; <what to do>`` line and exit 1. The output is deterministic: same dashboard,
same bytes.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from infra.tools import ROOT, ToolError, ToolParser, cdk_context

GRID_COLUMNS = 24
DEFAULT_SIZE = 6  # width and height of a widget that gives none ("Dashboard body structure and syntax")
COLUMN_PX = 40
ROW_PX = 24  # one grid row; rows are drawn lower than columns are wide so tall dashboards stay readable
PLACEHOLDER = "REF"  # what a CloudFormation reference in the body becomes

_MARGIN = 16
_HEADER = 56
_RULER = 16
_GAP = 2  # px between neighbouring widgets
_PAD = 6  # px inside a widget
_FONT = 12
_CHAR_EM = 0.6  # assumed average glyph width for truncation: generous for sans-serif, so text fits
_ELLIPSIS = "\u2026"

# type: (fill, stroke, tag); other types get _OTHER with their own name as the tag.
_STYLES = {
    "metric": ("#e8f1fb", "#6b9bd1", "metric"),
    "text": ("#f2f2f2", "#a6a6a6", "text"),
    "alarm": ("#fdecea", "#d98880", "alarm"),
    "chart": ("#eaf6ee", "#6fb38a", "PromQL"),
}
_OTHER = ("#f6f1e1", "#c2ad6b")
_INK = "#1f2933"
_MUTED = "#52606d"


@dataclass(frozen=True)
class _Placed:
    """A widget's grid rectangle and what is drawn in it."""

    kind: str
    x: int
    y: int
    width: int
    height: int
    title: str
    count: str


def _fmt(value: float) -> str:
    """A coordinate as SVG text: integers bare, others to two decimals without trailing zeros."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _text(value: str) -> str:
    """Text or attribute content: XML-escaped, non-ASCII as character references (the file stays ASCII)."""
    return escape(value, {'"': "&quot;"}).encode("ascii", "xmlcharrefreplace").decode("ascii")


def _markdown_title(markdown: str) -> str:
    """The first heading of a text widget's markdown (else its first non-empty line), as plain text."""
    lines = [line.strip() for line in markdown.splitlines() if line.strip()]
    if not lines:
        return ""
    line = next((line for line in lines if line.startswith("#")), lines[0])
    line = line.lstrip("#").strip()
    line = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", line)  # [text](url) and ![alt](src) -> text
    line = re.sub(r"(\*\*|__|\*|_|`)(.+?)\1", r"\2", line)  # emphasis and code spans
    return " ".join(line.split())


def _title(widget: Mapping[str, Any]) -> str:
    properties = widget.get("properties") or {}
    title = properties.get("title")
    if isinstance(title, str) and title.strip():
        return " ".join(title.split())
    if widget.get("type") == "text":
        return _markdown_title(str(properties.get("markdown", "")))
    return ""


def _count(widget: Mapping[str, Any]) -> str:
    properties = widget.get("properties") or {}
    kind = widget.get("type")
    if kind == "metric":
        n = len(properties.get("metrics") or [])
        return f"{n} metric" if n == 1 else f"{n} metrics"
    if kind == "alarm":
        n = len(properties.get("alarms") or [])
        return f"{n} alarm" if n == 1 else f"{n} alarms"
    if kind == "chart":
        n = len((properties.get("data") or {}).get("queries") or [])
        return f"{n} query" if n == 1 else f"{n} queries"
    return ""


def _grid_int(widget: Mapping[str, Any], index: int, key: str, low: int, high: int | None) -> int | None:
    value = widget.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        allowed = f"an integer {low}-{high}" if high is not None else f"an integer >= {low}"
        raise ValueError(f"widgets[{index}].{key}: {value!r} is not {allowed}")
    return value


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _layout(widgets: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, int, int]]:
    """Each widget's (x, y, width, height) in grid units.

    Width and height default to 6. Widgets with both x and y keep them; the others take "the next
    available position" (CloudWatch's words): in list order, each goes to the first free spot, in
    reading order (top to bottom, left to right), at or after the spot just right of the previous
    auto-placed widget, that fits inside the 24 columns without overlapping any widget.
    """
    sizes: list[tuple[int, int]] = []
    fixed: dict[int, tuple[int, int]] = {}
    for i, widget in enumerate(widgets):
        width = _grid_int(widget, i, "width", 1, GRID_COLUMNS) or DEFAULT_SIZE
        height = _grid_int(widget, i, "height", 1, 1000) or DEFAULT_SIZE
        x = _grid_int(widget, i, "x", 0, GRID_COLUMNS - 1)
        y = _grid_int(widget, i, "y", 0, None)
        if (x is None) != (y is None):
            raise ValueError(f"widgets[{i}]: has {'x' if y is None else 'y'} without {'y' if y is None else 'x'}; give both or neither")
        if x is not None and y is not None:
            if x + width > GRID_COLUMNS:
                raise ValueError(f"widgets[{i}]: x {x} + width {width} is past the {GRID_COLUMNS}-column grid")
            fixed[i] = (x, y)
        sizes.append((width, height))

    taken = [(x, y, *sizes[i]) for i, (x, y) in fixed.items()]
    placed: list[tuple[int, int, int, int]] = []
    cursor = (0, 0)  # (y, x): auto-placed widgets never go above or left of this in reading order
    for i, (width, height) in enumerate(sizes):
        if i in fixed:
            placed.append((*fixed[i], width, height))
            continue
        y, x = cursor
        while True:
            rect = (x, y, width, height)
            if x + width <= GRID_COLUMNS and not any(_overlaps(rect, other) for other in taken):
                break
            x += 1
            if x + width > GRID_COLUMNS:
                x, y = 0, y + 1
        taken.append(rect)
        placed.append(rect)
        cursor = (y, x + width)
    return placed


def _truncate(text: str, width_px: float, font_px: float) -> str:
    fits = int(width_px // (font_px * _CHAR_EM))
    if len(text) <= fits:
        return text
    if fits <= 1:
        return _ELLIPSIS if fits == 1 else ""
    return text[: fits - 1].rstrip() + _ELLIPSIS


def _widget_svg(w: _Placed, column_px: int, row_px: int) -> list[str]:
    fill, stroke, tag = _style(w.kind)
    left, top = w.x * column_px + _GAP, w.y * row_px + _GAP
    width, height = w.width * column_px - 2 * _GAP, w.height * row_px - 2 * _GAP
    tag_font = 9
    two_lines = height >= _PAD + _FONT + 4 + 10 + _PAD
    count = w.count if two_lines else ""
    tag_text = tag if two_lines or not w.count else f"{tag} {w.count.split()[0]}"
    tag_w = len(tag_text) * tag_font * _CHAR_EM + 8
    baseline = top + min(_PAD + _FONT, (height + _FONT) / 2 - 1)
    title_room = width - 2 * _PAD - tag_w - 4
    weight = ' font-weight="bold"' if w.kind == "text" else ""
    out = [
        "<g>",
        f"<title>{_text(f'{tag}: {w.title}' if w.title else tag)}</title>",
        f'<rect x="{_fmt(left)}" y="{_fmt(top)}" width="{_fmt(width)}" height="{_fmt(height)}" rx="3" fill="{fill}" stroke="{stroke}"/>',
        f'<text x="{_fmt(left + _PAD)}" y="{_fmt(baseline)}" font-size="{_FONT}"{weight} fill="{_INK}">'
        f"{_text(_truncate(w.title, title_room, _FONT))}</text>",
        f'<rect x="{_fmt(left + width - _PAD - tag_w)}" y="{_fmt(baseline - 10)}" width="{_fmt(tag_w)}" height="13" rx="2" '
        f'fill="#ffffff" stroke="{stroke}"/>',
        f'<text x="{_fmt(left + width - _PAD - tag_w / 2)}" y="{_fmt(baseline)}" font-size="{tag_font}" text-anchor="middle" '
        f'fill="{_MUTED}">{_text(tag_text)}</text>',
    ]
    if count:
        out.append(
            f'<text x="{_fmt(left + _PAD)}" y="{_fmt(baseline + 16)}" font-size="10" fill="{_MUTED}">'
            f"{_text(_truncate(count, width - 2 * _PAD, 10))}</text>"
        )
    out.append("</g>")
    return out


def _style(kind: str) -> tuple[str, str, str]:
    """(fill, stroke, tag) of a widget type."""
    return _STYLES.get(kind, (*_OTHER, kind or "widget"))


def _legend(kinds: Iterable[str], right: float, baseline: float) -> list[str]:
    """A swatch and name per widget type drawn, right-aligned at ``right``."""
    out: list[str] = []
    x = right
    for kind in reversed(tuple(kinds)):
        fill, stroke, tag = _style(kind)
        x -= len(tag) * 11 * _CHAR_EM
        out.append(f'<text x="{_fmt(x)}" y="{_fmt(baseline)}" font-size="11" fill="{_MUTED}">{_text(tag)}</text>')
        x -= 16
        out.append(f'<rect x="{_fmt(x)}" y="{_fmt(baseline - 10)}" width="12" height="12" rx="2" fill="{fill}" stroke="{stroke}"/>')
        x -= 14
    return out


def render_svg(body: Mapping[str, Any], *, title: str, column_px: int = COLUMN_PX, row_px: int = ROW_PX) -> str:
    """A CloudWatch dashboard body (``{"widgets": [...]}``) drawn as an SVG 1.1 document.

    One rectangle per widget on the 24-column grid, ``column_px`` (default 40) per column and
    ``row_px`` (default 24) per row, in body order. A widget shows ``properties.title`` (for a
    ``text`` widget without one, its markdown's first heading, else first line, as plain text),
    cut with an ellipsis to fit, with the full title as its tooltip; a tag with its type; and for
    ``metric`` (``alarm``) widgets the number of metric rows (alarms). Missing positions and sizes
    follow CloudWatch's defaults (see ``_layout``). Plain SVG: generic fonts, no scripts, images or
    styles; ASCII output; the same body gives the same text.

    Raises ValueError for a widget CloudWatch would reject: a position or size out of range, x
    without y (or y without x), or a widget past the 24th column.
    """
    widgets = body.get("widgets")
    if not isinstance(widgets, list):
        raise ValueError('body: no "widgets" list; pass a dashboard body such as {"widgets": [...]}')
    for i, widget in enumerate(widgets):
        if not isinstance(widget, Mapping):
            raise ValueError(f"widgets[{i}]: expected an object, got {type(widget).__name__}")
    placed = [
        _Placed(str(w.get("type", "")), x, y, width, height, _title(w), _count(w))
        for w, (x, y, width, height) in zip(widgets, _layout(widgets), strict=True)
    ]
    rows = max((p.y + p.height for p in placed), default=0)
    grid_w, grid_h = GRID_COLUMNS * column_px, rows * row_px
    width, height = grid_w + 2 * _MARGIN, _HEADER + _RULER + grid_h + _MARGIN
    known = tuple(_STYLES)
    kinds = sorted({p.kind for p in placed}, key=lambda k: (known.index(k) if k in known else len(known), k))
    summary = f"{len(placed)} widgets ({', '.join(f'{sum(p.kind == k for p in placed)} {k}' for k in kinds)})" if placed else "no widgets"
    scale = f"{GRID_COLUMNS}-column grid, {rows} rows; 1 column = {column_px} px, 1 row = {row_px} px"

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
        f"<title>{_text(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{_MARGIN}" y="{_MARGIN + 16}" font-size="18" font-weight="bold" fill="{_INK}">{_text(title)}</text>',
        f'<text x="{_MARGIN}" y="{_MARGIN + 34}" font-size="11" fill="{_MUTED}">{_text(f"{summary}; {scale}")}</text>',
        *_legend(kinds, _MARGIN + grid_w, _MARGIN + 16),
        f'<g transform="translate({_MARGIN},{_HEADER + _RULER})">',
    ]
    # The grid: a light line every column, darker every 6, and column numbers every 6 above it.
    for column in range(GRID_COLUMNS + 1):
        x = column * column_px
        colour = "#c8ced6" if column % 6 == 0 else "#edf0f3"
        out.append(f'<line x1="{x}" y1="0" x2="{x}" y2="{grid_h}" stroke="{colour}"/>')
        if column % 6 == 0:
            out.append(f'<text x="{x}" y="-4" font-size="10" text-anchor="middle" fill="{_MUTED}">{column}</text>')
    for p in placed:
        out.extend(_widget_svg(p, column_px, row_px))
    out += ["</g>", "</svg>", ""]
    return "\n".join(out)


def _resolve(value: Any) -> str:
    """A DashboardBody ``Fn::Join`` as text, other CloudFormation expressions as ``PLACEHOLDER``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_resolve(part) for part in parts)
    return PLACEHOLDER


def body_from_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """The body of the template's one ``AWS::CloudWatch::Dashboard``, references as ``"REF"``.

    Raises ValueError when the template has no dashboard or more than one, or the body is not JSON.
    """
    dashboards = {k: r for k, r in (template.get("Resources") or {}).items() if r.get("Type") == "AWS::CloudWatch::Dashboard"}
    if len(dashboards) != 1:
        found = ", ".join(sorted(dashboards)) or "none"
        raise ValueError(f"expected one AWS::CloudWatch::Dashboard, found {len(dashboards)} ({found})")
    ((logical_id, dashboard),) = dashboards.items()
    text = _resolve(dashboard.get("Properties", {}).get("DashboardBody"))
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{logical_id}: DashboardBody is not JSON once references are replaced ({exc})") from None
    if not isinstance(body, dict):
        raise ValueError(f"{logical_id}: DashboardBody is {type(body).__name__}, not an object")
    return body


def title_for(env: str) -> str:
    """The heading the README picture of ``env``'s dashboard carries."""
    return f"CloudWatch dashboard inference-{env}"


def render_template(template: Mapping[str, Any], *, env: str) -> str:
    """The SVG for ``env``'s synthesized observability template: what the CLI writes and the test compares."""
    return render_svg(body_from_template(template), title=title_for(env))


def _synth_template(env: str) -> dict[str, Any]:
    """``inference-<env>-observability.template.json``, synthesized offline in this process."""
    context = cdk_context()
    environments: Iterable[str] = context.get("environments") or {}
    if env not in environments:
        raise ToolError("--env", f"'{env}' is not an environment in cdk.json", f"use one of {', '.join(sorted(environments))}")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    from infra.node import pin_node

    pin_node()  # before aws_cdk is imported (by app): jsii starts Node.js then
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from app import create_app
    from infra.config import ConfigError

    with tempfile.TemporaryDirectory(prefix="dashboard-grid-") as outdir:
        try:
            app, _ = create_app({**context, "env": env}, outdir=outdir)
            app.synth()
        except ConfigError as exc:
            raise ToolError("cdk.json", str(exc), "fix the environment's configuration") from None
        except RuntimeError as exc:
            if "ValidationFailed" not in str(exc):
                raise
            raise ToolError(f"synth {env}", "synth-time checks failed", "run make nag to see the findings") from None
        path = Path(outdir) / f"inference-{env}-observability.template.json"
        if not path.is_file():
            raise ToolError(f"synth {env}", f"no {path.name} in the cloud assembly", "check that stacks/environment.py builds it")
        return json.loads(path.read_text(encoding="utf-8"))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m infra.tools.dashboard_grid", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="prod", help="environment in cdk.json (default: prod)")
    parser.add_argument("--out", default=None, help="SVG to write (default: docs/dashboard-<env>.svg in the repository)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is missing or stale")
    try:
        args = parser.parse_args(argv)
        out = Path(args.out) if args.out else ROOT / "docs" / f"dashboard-{args.env}.svg"
        try:
            svg = render_template(_synth_template(args.env), env=args.env)
        except ValueError as exc:
            raise ToolError(f"inference-{args.env}-observability", str(exc), "fix the layout in infra/constructs/dashboards.py") from None
        command = f"python -m infra.tools.dashboard_grid --env {args.env}" + (f" --out {args.out}" if args.out else "")
        if args.check:
            if not out.is_file():
                raise ToolError(_shown(out), "missing", f"run {command}")
            if out.read_bytes() != svg.encode("ascii"):
                raise ToolError(_shown(out), "stale, it differs from the synthesized dashboard", f"run {command}")
            print(f"{_shown(out)} is up to date")
            return 0
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(svg.encode("ascii"))
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {_shown(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
