"""A font that draws Chinese in the charts, found among the fonts installed on the system.

matplotlib's default font (DejaVu Sans) has no Chinese glyphs: 挽回率 would be drawn as boxes. The
families below are those of the Debian/Ubuntu packages fonts-noto-cjk, fonts-wqy-microhei and
fonts-wqy-zenhei, Adobe's Source Han and the macOS/Windows system fonts, best first.
"""

from __future__ import annotations

from functools import cache

from matplotlib import font_manager

CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",
    "PingFang SC",
    "Microsoft YaHei",
    "SimHei",
)

FONT_HINT = "install fonts-noto-cjk or fonts-wqy-microhei (Debian/Ubuntu) for Chinese chart labels"


@cache
def find_cjk_family(candidates: tuple[str, ...] = CJK_FAMILIES) -> str | None:
    """The first of `candidates` installed on this system, or None."""
    found = _first_known(candidates)
    if found is None:
        # matplotlib caches the font list on first use; a font installed since is only seen after a rescan.
        _add_system_fonts()
        found = _first_known(candidates)
    return found


def _first_known(candidates: tuple[str, ...]) -> str | None:
    known = {font.name for font in font_manager.fontManager.ttflist}
    return next((family for family in candidates if family in known), None)


def _add_system_fonts() -> None:
    known_files = {font.fname for font in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path in known_files:
            continue
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            # A font file matplotlib cannot read is simply not a candidate.
            continue
