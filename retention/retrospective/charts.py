"""The report's charts as PNG bytes, drawn with matplotlib's object API (no pyplot: no global figure state,
safe in a long-running Dagster process).

Charts take plain, already labelled numbers; which language the labels are in is the caller's choice
(Chinese only when `family` names a font that has the glyphs).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

TREATED_COLOUR = "#2f6fdf"
HOLDOUT_COLOUR = "#9aa5b1"
TARGET_COLOUR = "#d64545"
LINE_COLOUR = "#e07b00"


@dataclass(frozen=True)
class Panel:
    """One small bar chart: categories down the side, one bar per series (None: no bar)."""

    title: str
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float | None, ...]], ...]


def png(draw: Callable[[Figure], None], size: tuple[float, float], family: str | None, dpi: int = 100) -> bytes:
    """Draw on a new figure of `size` inches with `family` (else matplotlib's default font) and return the PNG."""
    families = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    # CJK fonts often lack U+2212 (the typographic minus): plain hyphens keep negative ticks readable.
    with rc_context({"font.family": "sans-serif", "font.sans-serif": families, "axes.unicode_minus": False}):
        figure = Figure(figsize=size, dpi=dpi, layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def rate_panels(
    panels: Sequence[Panel], title: str, target: float | None, target_label: str, family: str | None
) -> bytes:
    """Win-back rates as horizontal bars, one panel per dimension, the target as a dashed line."""
    rows = sum(max(len(panel.categories), 1) for panel in panels)
    height = 1.2 + 0.32 * rows + 0.5 * len(panels)

    def draw(figure: Figure) -> None:
        axes = figure.subplots(
            len(panels), 1, squeeze=False, height_ratios=[max(len(p.categories), 1) + 1 for p in panels]
        )
        for ax, panel in zip(axes[:, 0], panels, strict=True):
            _horizontal_bars(ax, panel)
            if target is not None:
                ax.axvline(target, color=TARGET_COLOUR, linestyle="--", linewidth=1.2, label=target_label)
            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        # One legend for all panels, below them, where it covers no bar.
        handles, names = axes[0, 0].get_legend_handles_labels()
        figure.legend(handles, names, loc="outside lower center", ncols=len(names), fontsize=9, frameon=False)
        figure.suptitle(title, fontsize=13)

    return png(draw, (9.0, height), family)


def _horizontal_bars(ax: Axes, panel: Panel) -> None:
    count = len(panel.series)
    width = 0.8 / max(count, 1)
    positions = range(len(panel.categories))
    colours = (TREATED_COLOUR, HOLDOUT_COLOUR, LINE_COLOUR)
    for index, (name, values) in enumerate(panel.series):
        offsets = [p - 0.4 + width * (index + 0.5) for p in positions]
        bars = ax.barh(offsets, [v or 0.0 for v in values], height=width, label=name, color=colours[index % 3])
        ax.bar_label(bars, labels=["" if v is None else f"{v:.1%}" for v in values], fontsize=8, padding=2)
    ax.set_yticks(list(positions), panel.categories, fontsize=9)
    ax.invert_yaxis()
    ax.set_title(panel.title, fontsize=11, loc="left")
    ax.margins(x=0.15)


def interval_chart(
    categories: Sequence[str],
    estimates: Sequence[float | None],
    intervals: Sequence[tuple[float | None, float | None]],
    title: str,
    axis_label: str,
    family: str | None,
) -> bytes:
    """Point estimates with their confidence intervals as error bars, and the zero line."""

    def draw(figure: Figure) -> None:
        ax = figure.subplots()
        for position, (estimate, (low, high)) in enumerate(zip(estimates, intervals, strict=True)):
            if estimate is None:
                continue
            low = estimate if low is None else low
            high = estimate if high is None else high
            ax.errorbar(
                [estimate], [position], xerr=[[estimate - low], [high - estimate]],
                fmt="o", color=TREATED_COLOUR, capsize=6, markersize=7, linewidth=2,
            )  # fmt: skip
            ax.annotate(f"{estimate:+.1%}  [{low:+.1%}, {high:+.1%}]", (high, position), xytext=(8, -4),
                        textcoords="offset points", fontsize=9)  # fmt: skip
        ax.axvline(0.0, color="#52606d", linewidth=1)
        ax.set_yticks(range(len(categories)), categories)
        ax.set_ylim(-0.6, len(categories) - 0.4)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(axis_label)
        ax.margins(x=0.35)
        ax.set_title(title, fontsize=13)

    return png(draw, (9.0, 1.6 + 0.55 * len(categories)), family)


def trend_chart(
    weeks: Sequence[str],
    bars: Sequence[float],
    bar_label: str,
    line: Sequence[float | None],
    line_label: str,
    title: str,
    target: float | None,
    target_label: str,
    family: str | None,
    size: tuple[float, float] = (9.0, 4.2),
) -> bytes:
    """Weekly bars (a count) with a cumulative rate as a line on a second axis."""

    def draw(figure: Figure) -> None:
        ax = figure.subplots()
        positions = range(len(weeks))
        ax.bar(positions, bars, color=HOLDOUT_COLOUR, label=bar_label)
        ax.set_xticks(list(positions), weeks, fontsize=9)
        ax.set_ylabel(bar_label)
        rate_axis = ax.twinx()
        points = [(p, value) for p, value in zip(positions, line, strict=True) if value is not None]
        rate_axis.plot([p for p, _ in points], [v for _, v in points], marker="o", color=TREATED_COLOUR,
                       linewidth=2, label=line_label)  # fmt: skip
        for p, value in points:
            rate_axis.annotate(f"{value:.1%}", (p, value), xytext=(0, 7), textcoords="offset points",
                               ha="center", fontsize=8, color=TREATED_COLOUR)  # fmt: skip
        if target is not None:
            rate_axis.axhline(target, color=TARGET_COLOUR, linestyle="--", linewidth=1.2, label=target_label)
        top = max([target or 0.0, *(v for _, v in points)], default=0.0)
        rate_axis.set_ylim(0, max(top * 1.25, 0.05))
        rate_axis.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        rate_axis.set_ylabel(line_label)
        handles = ax.get_legend_handles_labels()[0] + rate_axis.get_legend_handles_labels()[0]
        figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=9, frameon=False)
        ax.set_title(title, fontsize=13)

    return png(draw, size, family)
