"""Write the shell completion scripts in this directory from qwen's typer app.

    python completions/generate.py        # tests/test_completions.py fails until you do
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from qwen_cli.cli.completion import FILES, script  # noqa: E402

if __name__ == "__main__":
    for shell, name in FILES.items():
        (HERE / name).write_text(script(shell), encoding="utf-8")
        print(f"wrote completions/{name}")
