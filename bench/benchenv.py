"""The environment every benchmark gives the installed `qwen`: this machine's, less the user's
qwen settings, pointed at the local server and at a temporary config and data directory."""

from __future__ import annotations

import os
from pathlib import Path

# PYTHONDONTWRITEBYTECODE would recompile every module on every run; installed copies have
# bytecode, so the warm-up run may write it as an install would.
SKIP = ("QWEN_", "DASHSCOPE_", "NO_COLOR", "PYTHONDONTWRITEBYTECODE")


def qwen_env(base_url: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SKIP)}
    env.update(
        QWEN_BASE_URL=base_url,
        DASHSCOPE_API_KEY="sk-bench",
        TERM="xterm-256color",
        QWEN_CONFIG_DIR=str(tmp / "config"),
        QWEN_DATA_DIR=str(tmp / "data"),  # each answer is logged, as it is for a user
    )
    return env
