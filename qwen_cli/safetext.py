"""Text from outside (a server, the store) made safe to show on a terminal. Pure, stdlib only.

A terminal obeys what it is sent: ESC and the C1 controls start sequences that clear the
screen, move the cursor, set the window title (OSC 0/2), write the clipboard (OSC 52), hide a
link target (OSC 8) or make the terminal type an answer into qwen's own stdin (DSR ``ESC[6n``,
DCS ``ESC P``); BEL, BS, CR and DEL rewrite what is on the line; bidi embeddings, overrides and
isolates reorder it. None of that may come from a model's answer.

* `visible` shows every such character as an inert visible one: C0 controls and DEL as their
  Unicode control pictures (ESC as ``␛``, BEL as ``␇``), C1 controls as ``\\x9b``, bidi controls
  as ``\\u202e``. Tabs and newlines stay; CR LF becomes LF. Because ESC itself is replaced,
  no sequence survives in part, not even across deltas: ESC at the end of one and ``[2J`` at
  the start of the next show as ``␛[2J``.
* `visible_json` does the same to JSON text with ``\\u009b`` escapes, so it stays valid JSON
  meaning the same data (``json.dumps`` already escapes C0 controls, but not C1 or bidi ones).
* `shown` is the one rule of where: the visible form on a terminal, the text unchanged in a
  pipe or a file, where it is data.
"""

from __future__ import annotations

import re

_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_TABLE[0x7F] = "\u2421"  # ␡
_TABLE.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})
_TABLE.update({c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def is_safe(text: str) -> bool:
    """True when ``text`` holds nothing a terminal would obey (tabs and newlines aside)."""
    return _UNSAFE.search(text) is None


def visible(text: str) -> str:
    """``text`` with every control character (but tab and newline) and bidi control made visible."""
    if _UNSAFE.search(text) is None:  # the usual case: one scan in C, nothing copied
        return text
    return text.replace("\r\n", "\n").translate(_TABLE)


def visible_json(text: str) -> str:
    """JSON text (as ``json.dumps`` writes it) with every such character as a ``\\uXXXX`` escape."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def is_terminal(stream: object) -> bool:
    """Whether ``stream`` is a terminal; False for anything without a working ``isatty``."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # no such method, or closed/detached
        return False


def shown(text: str, stream: object, *, json: bool = False) -> str:
    """``text`` as it may be written to ``stream``: made visible on a terminal, else unchanged.

    ``json``: ``text`` is JSON, made visible with escapes that keep it valid.
    """
    if not is_terminal(stream):
        return text
    return visible_json(text) if json else visible(text)
