"""Text a hostile server sends to drive the user's terminal, one entry per kind of attack.

Shared by the unit tests of `qwen_cli.safetext` and the pty tests of the installed `qwen`.
Each payload is what must never reach a terminal as it is; ``SHOWN`` is how each must look.
"""

from __future__ import annotations

# name -> the raw text a server sends
KINDS: dict[str, str] = {
    "clear screen": "\x1b[2J\x1b[H",
    "cursor move": "\x1b[10;10H\x1b[3A",
    "osc 8 link": "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "osc 52 clipboard, ESC \\": "\x1b]52;c;cm0gLXJmIH4=\x1b\\",
    "osc 52 clipboard, BEL": "\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "title osc 0": "\x1b]0;pwned-title\x07",
    "title osc 2": "\x1b]2;pwned-title2\x1b\\",
    "bidi override": "abc\u202eevil\u202c",
    "bidi embeddings and isolates": "\u202a\u202b\u202d\u2066\u2067\u2068\u2069",
    "dsr query": "\x1b[6n",
    "dcs query": "\x1bP$q m\x1b\\",
    "c1 csi": "\x9b2J\x9b6n",
    "c1 osc": "\x9d0;c1-title\x9c",
    "lone esc, bel, bs, del": "x\x1by\x07z\x08w\x7fv",
    "cr overwrite": "safe text\rEVIL",
    "window report": "\x1b[21t\x1b[c",
}

# What must not appear in bytes written to a terminal (qwen's own drawing uses none of them).
PAYLOADS: list[bytes] = [
    b"\x1b[2J",
    b"\x1b[H",
    b"\x1b[10;10H",
    b"\x1b[3A",
    b"\x1b]8;",
    b"\x1b]52;",
    b"\x1b]0;",
    b"\x1b]2;",
    b"\x1b[6n",
    b"\x1bP",
    b"\x1b[21t",
    b"\x1b[c",
    b"\x1by",
    b"\x07",
    b"\x08",
    b"\x7f",
    *(chr(c).encode() for c in (*range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))),
]

# Visible forms that must be there instead (in Markdown a backslash before punctuation escapes it).
SHOWN = ["␛[2J", "␛]52;c;cm0gLXJmIH4=␛", "␛]0;pwned-title␇", "␛[6n", "␛P$q m", "\\x9b2J", "\\u202e"]


def answer() -> str:
    """One answer carrying every kind, between ordinary Markdown lines."""
    lines = [f"{name}: [{text}]" for name, text in KINDS.items()]
    return "Hostile answer.\n\n" + "\n\n".join(lines) + "\n\nThe end. 中文 🙂\n"
