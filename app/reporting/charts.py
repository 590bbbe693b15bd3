"""Server-rendered SVG charts (line and grouped bar), accessible and self-contained.

A `Chart` holds the series data once; `svg(chart)` draws it (role="img", <title>/<desc>, axis
labels, gridlines, legend, a <title> tooltip on every mark) with inline attributes only, so the
same markup works inside the page and as a downloaded .svg file. The page renders the data
table behind a <details> toggle from the same object, and the analytics PDF draws the same
series with reportlab (app.reporting.exports).
"""

import math
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

from app.web.money import currency_symbol, format_money

NAVY, BLUE, SKY = "#1e3a8a", "#2563eb", "#93c5fd"
GREEN, RED, GREY = "#16a34a", "#dc2626", "#9ca3af"
PALETTE = (NAVY, BLUE, SKY, GREEN, RED, "#f59e0b")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
TEXT, MUTED, GRID = "#374151", "#6b7280", "#e5e7eb"


def _frozen(value):
    """Lists (and the lists inside them) as tuples: a chart is then hashable, so drawing it is memoized on its data."""
    return tuple(_frozen(item) for item in value) if isinstance(value, list | tuple) else value


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple
    color: str = BLUE
    colors: tuple | None = None  # one colour per bar, e.g. won green / lost red

    def __post_init__(self):
        object.__setattr__(self, "values", _frozen(self.values))
        object.__setattr__(self, "colors", _frozen(self.colors))


@dataclass(frozen=True)
class Chart:
    """A chart's data (immutable: `dataclasses.replace` makes a changed copy)."""

    key: str
    title: str
    description: str
    kind: str  # "line" | "bar"
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    x_label: str = ""
    y_label: str = ""
    value_format: str = "count"  # count | money | percent
    currency: str | None = None  # None: the configured CURRENCY_SYMBOL
    download_url: str | None = None
    width: int = 720
    height: int = 320
    extra_columns: tuple = ()  # (header, [values]) shown only in the data table

    def __post_init__(self):
        for name in ("labels", "series", "extra_columns"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def fmt(self, value) -> str:
        if value is None:
            return "—"
        if self.value_format == "money":
            return format_money(value, self.currency)  # format_money reads the configured symbol for None
        if self.value_format == "percent":
            return f"{float(value):.1f} %"
        return f"{int(value):,}"

    def axis_fmt(self, value: float) -> str:
        if self.value_format == "money":
            return _compact(value, currency_symbol() if self.currency is None else self.currency)
        if self.value_format == "percent":
            return f"{value:g} %"
        return _compact(value, "")

    @property
    def is_empty(self) -> bool:
        return not any(v for s in self.series for v in s.values if v is not None)

    @property
    def svg(self) -> Markup:
        return svg(self)  # memoized on the chart's data

    def rows(self):
        """The data table: one row per label, one cell per series (formatted), then any extra columns."""
        for i, label in enumerate(self.labels):
            cells = [self.fmt(s.values[i]) for s in self.series]
            cells += [values[i] for _header, values in self.extra_columns]
            yield label, cells


def _compact(value: float, prefix: str) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{prefix}{value / size:g}{suffix}"
    return f"{prefix}{value:g}"


def nice_scale(maximum: float, ticks: int = 4, integer: bool = False) -> tuple[float, float]:
    """A rounded top and step for the y axis (1, 2, 2.5, 5 × 10^n), so gridlines fall on readable numbers."""
    if maximum <= 0:
        return (ticks, 1.0) if integer else (1.0, 0.25)
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude)
    if integer:
        step = max(1.0, math.ceil(step))
        return max(step * math.ceil(maximum / step - 1e-9), step * ticks), step
    return step * math.ceil(maximum / step - 1e-9), step


def _num(value) -> float:
    return float(value) if value is not None else 0.0


def _text(x, y, content, *, anchor="middle", size=11, fill=MUTED, extra="") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}"{extra}>'
        f"{escape(content)}</text>"
    )


class _Frame:
    """The plot area inside the margins, and value → pixel mapping."""

    def __init__(self, chart: Chart):
        self.left, self.right, self.top, self.bottom = 72, 16, 40, 62
        self.w = chart.width - self.left - self.right
        self.h = chart.height - self.top - self.bottom
        peak = max((_num(v) for s in chart.series for v in s.values), default=0.0)
        if chart.value_format == "percent":
            self.top_value, self.step = 100.0, 25.0
        else:
            self.top_value, self.step = nice_scale(peak, integer=chart.value_format == "count")

    def y(self, value) -> float:
        return self.top + self.h - (_num(value) / self.top_value) * self.h

    @property
    def baseline(self) -> float:
        return self.top + self.h


def _grid(chart: Chart, frame: _Frame) -> list[str]:
    parts = []
    steps = int(round(frame.top_value / frame.step))
    for i in range(steps + 1):
        value = frame.step * i
        y = frame.y(value)
        weight = "1" if i else "1.5"  # the baseline a little stronger
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.left + frame.w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}" '
            f'stroke-width="{weight}"/>'
        )
        parts.append(_text(frame.left - 8, y + 4, chart.axis_fmt(value), anchor="end", size=12))
    return parts


def _x_labels(chart: Chart, frame: _Frame, centres: list[float]) -> list[str]:
    every = max(1, math.ceil(len(chart.labels) / max(2, chart.width // 90)))
    parts = []
    for i, (label, x) in enumerate(zip(chart.labels, centres, strict=False)):
        if i % every == 0:
            short = label if len(label) <= 16 else label[:15] + "…"
            parts.append(_text(x, frame.baseline + 18, short, size=12))
    return parts


def _axis_titles(chart: Chart, frame: _Frame) -> list[str]:
    parts = []
    if chart.x_label:
        parts.append(_text(frame.left + frame.w / 2, chart.height - 10, chart.x_label, size=13, fill=TEXT))
    if chart.y_label:
        cy = frame.top + frame.h / 2
        parts.append(_text(16, cy, chart.y_label, size=13, fill=TEXT, extra=f' transform="rotate(-90 16 {cy:.1f})"'))
    return parts


def _legend(chart: Chart) -> list[str]:
    if len(chart.series) < 2:
        return []  # one series: the title names it
    parts, x = [], 64
    for s in chart.series:
        parts.append(f'<rect x="{x}" y="11" width="13" height="13" rx="2" fill="{s.color}"/>')
        parts.append(_text(x + 19, 22, s.name, anchor="start", size=13, fill=TEXT))
        x += 40 + 7.5 * len(s.name)
    return parts


def _bars(chart: Chart, frame: _Frame) -> tuple[list[str], list[float]]:
    n = max(1, len(chart.labels))
    group = frame.w / n
    bar = min(48.0, group * 0.72 / max(1, len(chart.series)))
    parts, centres = [], []
    width, baseline = f"{max(bar - 2, 1):.1f}", frame.baseline
    heights = [[frame.y(value) for value in s.values] for s in chart.series]  # each value's top, once
    for i, label in enumerate(chart.labels):
        centre = frame.left + group * (i + 0.5)
        centres.append(centre)
        start = centre - bar * len(chart.series) / 2
        for j, s in enumerate(chart.series):
            y = heights[j][i]
            colour = s.colors[i] if s.colors else s.color
            tip = f"{label} · {s.name}: {chart.fmt(s.values[i])}"
            parts.append(
                f'<rect x="{start + j * bar:.1f}" y="{y:.1f}" width="{width}" '
                f'height="{max(baseline - y, 0):.1f}" rx="2" fill="{colour}"><title>{escape(tip)}</title></rect>'
            )
    return parts, centres


def _runs(values: list) -> list[list[int]]:
    """Indexes of consecutive non-missing values."""
    runs, current = [], []
    for i, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(i)
    if current:
        runs.append(current)
    return runs


def _lines(chart: Chart, frame: _Frame) -> tuple[list[str], list[float]]:
    n = len(chart.labels)
    gap = frame.w / max(1, n - 1) if n > 1 else 0
    centres = [frame.left + (gap * i if n > 1 else frame.w / 2) for i in range(n)]
    parts, xs = [], [f"{x:.1f}" for x in centres]
    for s in chart.series:
        ys = [f"{frame.y(value):.1f}" for value in s.values]  # once per point: the line and its marker
        for run in _runs(s.values):  # a missing value (None) breaks the line rather than bridging it
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(f"{xs[i]},{ys[i]}" for i in run)}" fill="none" '
                    f'stroke="{s.color}" stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>'
                )
        for i, value in enumerate(s.values):
            if value is None:
                continue
            tip = f"{chart.labels[i]} · {s.name}: {chart.fmt(value)}"
            parts.append(
                f'<circle cx="{xs[i]}" cy="{ys[i]}" r="4" fill="#fff" stroke="{s.color}" '
                f'stroke-width="2"><title>{escape(tip)}</title></circle>'
            )
    return parts, centres


@lru_cache(maxsize=256)
def svg(chart: Chart) -> Markup:
    """The chart as one accessible <svg> element (also a valid standalone SVG document body); a chart whose data
    has not changed since it was last drawn is not drawn again."""
    frame = _Frame(chart)
    title_id, desc_id = f"chart-{chart.key}-title", f"chart-{chart.key}-desc"
    marks, centres = (_bars if chart.kind == "bar" else _lines)(chart, frame)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lf-chart" role="img" viewBox="0 0 {chart.width} '
        f'{chart.height}" width="{chart.width}" height="{chart.height}" aria-labelledby="{title_id} {desc_id}" '
        f"font-family={quoteattr(FONT)}>",
        f'<title id="{title_id}">{escape(chart.title)}</title>',
        f'<desc id="{desc_id}">{escape(chart.description)}</desc>',
        f'<rect width="{chart.width}" height="{chart.height}" fill="#fff"/>',
        *_legend(chart),
        *_grid(chart, frame),
        *marks,
        *_x_labels(chart, frame, centres),
        *_axis_titles(chart, frame),
    ]
    if chart.is_empty:
        parts.append(_text(frame.left + frame.w / 2, frame.top + frame.h / 2, "No data for this period", size=13))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  # nosec B704: every text and attribute above is escaped


def svg_document(chart: Chart) -> str:
    """A downloadable .svg file."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + str(svg(chart)) + "\n"
