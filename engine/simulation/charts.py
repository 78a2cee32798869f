"""Small inline SVG charts for the simulation report: drawn here, so that it needs nothing from a network."""

from __future__ import annotations

from html import escape

# Distinguishable for the common colour-vision deficiencies (Okabe and Ito's palette).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")


def bar_chart(labels: list[str], series: list[tuple[str, list]], axis: str) -> str:
    """Horizontal bars from 0 to 100 per label, one bar per series, with a whisker for the interval.
    ``series`` is [(name, [(value, low, high) or None per label])]."""
    if not labels:
        return "<p>No obligation fell due in the period.</p>"
    bar, gap, left, width = 14, 10, 260, 420
    height_per_label = bar * len(series) + gap
    height = 40 + height_per_label * len(labels) + 20 * len(series)
    parts = [_svg_open(left + width + 60, height, f"Bar chart: {axis}, per service and arm")]
    for tick in range(0, 101, 25):
        x = left + width * tick / 100
        parts.append(f"<line x1='{x}' y1='20' x2='{x}' y2='{height - 20 * len(series) - 10}' stroke='#ddd'/>")
        parts.append(f"<text x='{x}' y='14' text-anchor='middle'>{tick}%</text>")
    for row, label in enumerate(labels):
        top = 24 + row * height_per_label
        parts.append(f"<text x='{left - 6}' y='{top + bar}' text-anchor='end'>{escape(_short(label))}</text>")
        for index, (_name, values) in enumerate(series):
            found = values[row]
            if found is None:
                continue
            value, low, high = found
            y = top + index * bar
            colour = COLOURS[index % len(COLOURS)]
            parts.append(
                f"<rect x='{left}' y='{y}' width='{width * value / 100:.1f}' height='{bar - 2}' "
                f"fill='{colour}'>"
                f"<title>{escape(label)}: {value:g}% met</title></rect>"
            )
            if low is not None and high is not None:
                mid = y + (bar - 2) / 2
                parts.append(
                    f"<line x1='{left + width * low / 100:.1f}' y1='{mid}' "
                    f"x2='{left + width * high / 100:.1f}' y2='{mid}' stroke='#111' stroke-width='1.5'/>"
                )
    parts += _legend([name for name, _ in series], left, height - 20 * len(series))
    parts.append("</svg>")
    return "".join(parts)


def line_chart(series: list[tuple[str, list[tuple[float, float]]]], x_axis: str, y_axis: str) -> str:
    """Lines of (x, y) points, one per series, on shared axes starting at 0."""
    points = [p for _, line in series for p in line]
    if not points:
        return ""
    width, height, left, bottom = 420, 180, 40, 30
    most_x = max(x for x, _ in points) or 1
    most_y = max(y for _, y in points) or 1
    inner_h = height - bottom - 10
    full_height = height + 20 * len(series)
    parts = [_svg_open(width + left + 10, full_height, f"Line chart: {y_axis} over {x_axis}")]
    parts.append(
        f"<line x1='{left}' y1='{10 + inner_h}' x2='{left + width}' y2='{10 + inner_h}' stroke='#999'/>"
    )
    parts.append(f"<line x1='{left}' y1='10' x2='{left}' y2='{10 + inner_h}' stroke='#999'/>")
    parts.append(f"<text x='{left - 4}' y='16' text-anchor='end'>{most_y:g}</text>")
    parts.append(f"<text x='{left - 4}' y='{10 + inner_h}' text-anchor='end'>0</text>")
    parts.append(
        f"<text x='{left + width}' y='{height - 8}' text-anchor='end'>{most_x:.1f} {escape(x_axis)}</text>"
    )
    for index, (name, line) in enumerate(series):
        coordinates = " ".join(
            f"{left + width * x / most_x:.1f},{10 + inner_h - inner_h * y / most_y:.1f}" for x, y in line
        )
        parts.append(
            f"<polyline points='{coordinates}' fill='none' stroke='{COLOURS[index % len(COLOURS)]}' "
            f"stroke-width='1.5'><title>{escape(name)}</title></polyline>"
        )
    parts += _legend([name for name, _ in series], left, height)
    parts.append("</svg>")
    return "".join(parts)


def _legend(names: list[str], left: int, top: int) -> list[str]:
    parts = []
    for index, name in enumerate(names):
        y = top + 20 * index
        parts.append(
            f"<rect x='{left}' y='{y + 4}' width='12' height='12' fill='{COLOURS[index % len(COLOURS)]}'/>"
        )
        parts.append(f"<text x='{left + 18}' y='{y + 14}'>{escape(name)}</text>")
    return parts


def _svg_open(width: float, height: float, label: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' height='{height:.0f}' "
        f"viewBox='0 0 {width:.0f} {height:.0f}' role='img' aria-label='{escape(label)}'>"
    )


def _short(label: str, most: int = 40) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"
