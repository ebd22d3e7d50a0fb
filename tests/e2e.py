"""What the end-to-end tests share: the installed binary and a clean environment for it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

QWEN = str(Path(sys.executable).with_name("qwen"))
needs_qwen = pytest.mark.skipif(not os.path.exists(QWEN), reason="the qwen console script is not installed")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child `qwen`: nothing QWEN_*/DASHSCOPE_*/NO_COLOR from outside, the
    test's own config, data and cache dirs, PAGER=cat, then ``extra``."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_", "DASHSCOPE_")) and k != "NO_COLOR"}
    for name in ("QWEN_CONFIG_DIR", "QWEN_DATA_DIR", "QWEN_CACHE_DIR"):
        e[name] = os.environ[name]
    e["PAGER"] = "cat"  # `history show` pages on a terminal: a pager would wait for keys
    e.update(extra)
    return e
