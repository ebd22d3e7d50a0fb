"""The one rule for text that cannot be written as UTF-8.

JSON can carry a lone UTF-16 surrogate (``"\\ud800"``) and a command-line argument that is not
valid UTF-8 arrives with surrogate escapes; neither can be printed to a UTF-8 terminal or stored
in SQLite. Each becomes U+FFFD, the replacement character, and everything around it is kept.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """``value`` with every lone surrogate replaced by U+FFFD (unchanged, not copied, if none)."""
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
