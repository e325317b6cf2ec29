"""The HTML pieces of the reports: escaped text, number formats, tables and embedded images.

The pages are self-contained (inline CSS, images as data URIs): they open from a file share or an email
attachment with no network, and a browser makes no request for them.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from html import escape

MISSING = "–"

CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "PingFang SC",
       "Microsoft YaHei", sans-serif; margin: 24px auto; max-width: 1180px; color: #1f2933; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 32px;
     border-bottom: 2px solid #d9e2ec; padding-bottom: 4px; } h3 { font-size: 16px; margin-top: 20px; }
.sub { color: #52606d; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #d9e2ec; border-radius: 8px; padding: 10px 14px; min-width: 190px; }
.card .label { color: #52606d; font-size: 13px; } .card .value { font-size: 24px; font-weight: 600; }
.card .note { color: #52606d; font-size: 12px; }
.good { color: #0b7a3e; } .bad { color: #b42318; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d9e2ec; padding: 4px 8px; } th { background: #f0f4f8; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.missing { color: #8a6d00; background: #fff8e1; border: 1px solid #f5d76e; padding: 8px 12px; border-radius: 6px; }
img.chart { max-width: 100%; border: 1px solid #eef2f6; margin: 8px 0; }
footer { color: #7b8794; font-size: 12px; margin-top: 40px; }
"""


def text(value: object) -> str:
    return escape(str(value), quote=True)


def pct(value: float | Decimal | None) -> str:
    """0.325 -> '32.5%'."""
    return MISSING if value is None else f"{float(value):.1%}"


def signed_pct(value: float | Decimal | None) -> str:
    """A difference of rates in percentage points: 0.108 -> '+10.8%', -0.02 -> '-2.0%'."""
    return MISSING if value is None else f"{float(value):+.1%}"


def interval(low: float | Decimal | None, high: float | Decimal | None) -> str:
    """(0.031, 0.184) -> '[+3.1%, +18.4%]'."""
    if low is None or high is None:
        return MISSING
    return f"[{signed_pct(low)}, {signed_pct(high)}]"


def cny(value: float | Decimal | None) -> str:
    """12345.6 -> '¥12,345.60'."""
    return MISSING if value is None else f"¥{float(value):,.2f}"


def count(value: int | float | Decimal | None) -> str:
    return MISSING if value is None else f"{int(value):,}"


def day(value: date | None) -> str:
    return MISSING if value is None else value.isoformat()


def png_img(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img class="chart" alt="{text(alt)}" src="data:image/png;base64,{encoded}">'


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A table of already formatted cells (escaped here); columns whose index is in `numeric` align right."""
    head = "".join(f"<th>{text(header)}</th>" for header in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{text(cell)}</td>' if i in numeric else f"<td>{text(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def card(label: str, value: str, note: str = "", tone: str = "") -> str:
    note_html = f'<div class="note">{text(note)}</div>' if note else ""
    tone_class = f" {tone}" if tone else ""
    return (
        f'<div class="card"><div class="label">{text(label)}</div>'
        f'<div class="value{tone_class}">{text(value)}</div>{note_html}</div>'
    )


def not_available(what: str, reason: str) -> str:
    return f'<p class="missing">{text(what)}: not available yet ({text(reason)}) · 暂无数据</p>'


def page(title: str, subtitle: str, body: str, footer: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{text(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{text(title)}</h1><p class="sub">{text(subtitle)}</p>{body}'
        f"<footer>{text(footer)}</footer></body></html>\n"
    )
