"""qwen: the command line and a thin Python client for Alibaba's Qwen models.

>>> from qwen_cli import Qwen
>>> client = Qwen(api_key="sk-...", region="intl")
>>> print(client.completion.create(prompt="Hello").choices[0].text)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from qwen_cli.client import Qwen
    from qwen_cli.errors import QwenAPIError

__all__ = ["Qwen", "QwenAPIError", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: `qwen --help` must not pay for httpx and the wire types.
    if name == "Qwen":
        from qwen_cli.client import Qwen

        return Qwen
    if name == "QwenAPIError":
        from qwen_cli.errors import QwenAPIError

        return QwenAPIError
    raise AttributeError(name)
