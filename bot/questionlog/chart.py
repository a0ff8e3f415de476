"""The /stats picture: questions per day, confident or not, and the helpful rate, as a PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, safe in a worker thread).
The picture brings its own dark background, so it reads the same in Discord's dark and light themes;
blue and orange stay apart for the common colour-blindnesses.
"""

from __future__ import annotations

import io
import os

import numpy as np

from bot.questionlog.store import Stats
from index import cache_folder

# matplotlib keeps its font list in ~/.cache/matplotlib unless told otherwise: in qa-bot's own cache folder
# instead (a folder the user chose with MPLCONFIGDIR is kept), so the bot writes nowhere else.
os.environ.setdefault("MPLCONFIGDIR", str(cache_folder() / "matplotlib"))

from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported after MPLCONFIGDIR is set
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

BACKGROUND = "#1e1f22"
TEXT = "#f2f3f5"
GRID = "#4e5058"
CONFIDENT = "#4c9be8"
NOT_CONFIDENT = "#f5a623"
HELPFUL_RATE = "#57f287"
SIZE_INCHES = (8, 4)
DPI = 100


def render_chart(stats: Stats, title: str) -> bytes:
    """The chart as PNG bytes (800 × 400 pixels)."""
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, facecolor=BACKGROUND, layout="constrained")
    FigureCanvasAgg(figure)
    bars = figure.add_subplot()
    bars.set_facecolor(BACKGROUND)
    days = np.array([d.day for d in stats.days], dtype="datetime64[D]")
    confident = [d.confident for d in stats.days]
    weak = [d.questions - d.confident for d in stats.days]
    bars.bar(days, confident, width=0.8, color=CONFIDENT, label="answered confidently")
    bars.bar(days, weak, width=0.8, bottom=confident, color=NOT_CONFIDENT, label="no confident answer")
    bars.set_ylabel("questions per day (UTC)", color=TEXT)
    bars.yaxis.set_major_locator(MaxNLocator(integer=True))
    bars.set_ylim(0, max(max(d.questions for d in stats.days) * 1.15, 1))
    locator = AutoDateLocator(maxticks=10)  # type: ignore[no-untyped-call]
    bars.xaxis.set_major_locator(locator)
    bars.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    bars.grid(axis="y", color=GRID, linewidth=0.6)
    bars.set_axisbelow(True)

    rate = bars.twinx()
    rated = [d for d in stats.days if d.helpful + d.not_helpful]
    rate.plot(
        np.array([d.day for d in rated], dtype="datetime64[D]"),
        [d.helpful / (d.helpful + d.not_helpful) for d in rated],
        color=HELPFUL_RATE,
        marker="o",
        linewidth=2,
        label="helpful rate (votes)",
    )
    rate.set_ylim(0, 1.05)
    rate.yaxis.set_major_formatter(PercentFormatter(1.0))
    rate.set_ylabel("helpful rate", color=TEXT)

    for axes in (bars, rate):
        axes.tick_params(colors=TEXT, which="both")
        for spine in axes.spines.values():
            spine.set_color(GRID)
    if not stats.questions:
        bars.text(0.5, 0.5, "No questions in this period", transform=bars.transAxes, ha="center", color=TEXT)
    handles = bars.get_legend_handles_labels()[0] + rate.get_legend_handles_labels()[0]
    legend = figure.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False, fontsize="small")
    for label in legend.get_texts():
        label.set_color(TEXT)
    bars.set_title(title, color=TEXT)
    out = io.BytesIO()
    figure.savefig(out, format="png", facecolor=BACKGROUND)
    return out.getvalue()
