"""Charts as SVG drawn on the server: no script, no chart library, nothing to download.

Colours come from classes (``series-0`` …) styled by console.css, since the CSP allows no
inline style; each chart carries a title and a description for screen readers, and the
pages print the numbers next to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40


def _scale(top: float) -> float:
    """A round ceiling for the y axis (1, 2, 5 × 10ⁿ)."""
    if top <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= top:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= top:
            return step * factor
    return step * 10


def _frame(title: str, description: str, body: list[str], ymax: float,
           labels: Sequence[str], legend: Sequence[str]) -> Markup:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 18 * ((len(legend) + 3) // 4)}"'
             f' role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title><desc>{escape(description)}</desc>"]
    for i in range(5):
        y = TOP + plot_h * i / 4
        value = ymax * (4 - i) / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{value:g}</text>')
    parts.extend(body)
    if labels:
        step = max(1, len(labels) // 8)
        span = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
        for i in range(0, len(labels), step):
            x = LEFT + span * (i + 0.5)
            parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                         f'text-anchor="middle">{escape(labels[i])}</text>')
    for i, name in enumerate(legend):
        x = LEFT + (i % 4) * 150
        y = HEIGHT + 4 + 18 * (i // 4)
        parts.append(f'<rect class="series-{i % 8}" x="{x}" y="{y - 9}" width="10" height="10"/>'
                     f'<text class="legend" x="{x + 14}" y="{y}">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def lines(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]]) -> Markup:
    """One line per series over the labelled x positions."""
    ymax = _scale(max((v for values in series.values() for v in values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = plot_w / max(1, len(labels))
    body = []
    for i, (_name, values) in enumerate(series.items()):
        points = " ".join(f"{LEFT + span * (n + 0.5):.1f},{TOP + plot_h * (1 - v / ymax):.1f}"
                          for n, v in enumerate(values))
        body.append(f'<polyline class="line series-{i % 8}" points="{points}"/>')
    description = "; ".join(f"{name}: {', '.join(f'{v:g}' for v in values)}"
                            for name, values in series.items())
    return _frame(title, description, body, ymax, labels, list(series))


def bars(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]]) -> Markup:
    """Grouped bars: for each label, one bar per series."""
    ymax = _scale(max((v for values in series.values() for v in values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = plot_w / max(1, len(labels))
    width = span * 0.8 / max(1, len(series))
    body = []
    for i, (_name, values) in enumerate(series.items()):
        for n, v in enumerate(values):
            h = plot_h * v / ymax
            x = LEFT + span * n + span * 0.1 + width * i
            body.append(f'<rect class="series-{i % 8}" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" '
                        f'width="{width:.1f}" height="{h:.1f}"/>')
    description = "; ".join(f"{label}: " + ", ".join(f"{name} {values[n]:g}"
                                                     for name, values in series.items())
                            for n, label in enumerate(labels))
    return _frame(title, description, body, ymax, labels, list(series))
