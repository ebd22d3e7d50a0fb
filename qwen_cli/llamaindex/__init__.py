"""LlamaIndex on Qwen: ``QwenLlamaIndex``, installed with ``pip install 'qwen-cli[llamaindex]'``.

Nothing else in ``qwen_cli`` imports this package: the command line never loads LlamaIndex.
"""

from __future__ import annotations

try:
    from qwen_cli.llamaindex.llm import QwenLlamaIndex
except ImportError as exc:  # pragma: no cover - the extra is missing
    if not (exc.name or "").startswith("llama_index"):
        raise
    raise ImportError(
        "QwenLlamaIndex needs llama-index-core: pip install 'qwen-cli[llamaindex]'", name=exc.name
    ) from exc

__all__ = ["QwenLlamaIndex"]
