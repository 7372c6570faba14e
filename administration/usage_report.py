"""The usage page's numbers and chart, from the daily rollup (never from messages)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import CharField, F, Sum, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from conversations.models import DailyUsage

GROUPS = {
    "day": F("day"),
    # A widget's usage is the widget's, never a person's: it shows as the widget.
    "user": Coalesce(
        "owner__username",
        Concat(Value("widget: "), "widget__name"),
        Value("widget: (deleted)"),
        output_field=CharField(),
    ),
    "model": F("model"),
    "origin": F("origin"),
    "widget": F("widget__name"),
}
TOTALS = ["replies", "failures", "tokens_in", "tokens_out", "estimated_replies"]


@dataclass(frozen=True)
class Report:
    start: datetime.date
    end: datetime.date
    group: str
    rows: list[dict]  # one per group key, with the totals
    days: list[dict]  # one per day of the range (zeros included), for the chart
    total: dict


def default_range(today: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
    today = today or timezone.localdate()
    return today - datetime.timedelta(days=29), today


def build(start: datetime.date, end: datetime.date, group: str = "day") -> Report:
    """Three aggregate queries over the rollup, whatever the range or the number of users."""
    rows = DailyUsage.objects.filter(day__gte=start, day__lte=end)
    sums = {name: Sum(name) for name in TOTALS}
    by_group = list(
        rows.annotate(key=GROUPS[group])
        .values("key")
        .annotate(**sums)
        .order_by("key" if group == "day" else "-tokens_out")
    )
    per_day = {r["day"]: r for r in rows.values("day").annotate(**sums).order_by("day")}
    days = []
    # Counted, not stepped past `end`: the day after 9999-12-31 does not exist.
    for offset in range((end - start).days + 1):
        day = start + datetime.timedelta(days=offset)
        days.append({"day": day, **{k: (per_day.get(day) or {}).get(k) or 0 for k in TOTALS}})
    total = {k: v or 0 for k, v in rows.aggregate(**sums).items()}
    return Report(start, end, group, by_group, days, total)


def chart_svg(days: list[dict], *, width: int = 720, height: int = 200) -> str:
    """Tokens in and out per day as stacked bars: a server-rendered SVG, no script, no CDN."""
    if not days:
        return ""
    top = max((d["tokens_in"] + d["tokens_out"] for d in days), default=0) or 1
    left, bottom, plot_h = 48, 24, height - 24 - 8
    bar_w = max(1.0, (width - left) / len(days))
    parts = [
        f'<svg class="usage-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Tokens per day, in and out">',
        f'<text x="0" y="12">{_short(top)}</text><text x="0" y="{height - bottom}">0</text>',
    ]
    for index, d in enumerate(days):
        x = left + index * bar_w
        h_in = plot_h * d["tokens_in"] / top
        h_out = plot_h * d["tokens_out"] / top
        y_out = 8 + plot_h - h_out
        y_in = y_out - h_in
        label = f"{d['day']:%Y-%m-%d}: {d['tokens_in']:,} in, {d['tokens_out']:,} out"
        parts.append(
            f"<g><title>{label}</title>"
            f'<rect class="in" x="{x:.1f}" y="{y_in:.1f}" width="{bar_w * 0.8:.1f}" height="{h_in:.1f}"/>'
            f'<rect class="out" x="{x:.1f}" y="{y_out:.1f}" width="{bar_w * 0.8:.1f}" height="{h_out:.1f}"/></g>'
        )
    every = max(1, len(days) // 6)
    for index in range(0, len(days), every):
        x = left + index * bar_w
        parts.append(f'<text x="{x:.1f}" y="{height - 6}">{days[index]["day"]:%b %d}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(number: int) -> str:
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if number >= size:
            return f"{number / size:.1f}{suffix}"
    return str(number)
