"""Text from landed files made safe to put in a log line, an error or asset metadata.

File names and values come from outside: a newline in a file name could forge a log line, an ANSI
escape could repaint a terminal. Every such string goes through `printable` before it is shown.
"""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def printable(text: object, limit: int | None = 200, *, escape_backslash: bool = True) -> str:
    """`text` with control and other invisible format characters escaped (`\\n`, `\\x1b`, `\\u202e`),
    cut to `limit` characters (None: no limit) with a marker saying how much was left out.
    `escape_backslash=False` is for text escaped once already (an error naming an escaped file name),
    so it is shown as it was, not with doubled backslashes."""
    value = str(text)
    cut = ""
    if limit is not None and len(value) > limit:
        cut = f"...(+{len(value) - limit} chars)"
        value = value[:limit]
    escaped = "".join(ch if ch == "\\" and not escape_backslash else _escape(ch) for ch in value)
    return escaped + cut


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    # Cc: control characters; Cf: format characters such as the right-to-left override; Zl/Zp: line and
    # paragraph separators, which some log viewers break lines on.
    if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return ch
