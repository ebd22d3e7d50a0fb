"""The one result of an answer, as it ended: what the display shows last and the store keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwen_cli.errors import QwenAPIError
    from qwen_cli.types import Usage


@dataclass
class Answer:
    """One answer as it ended: complete, interrupted by Ctrl-C, or broken off."""

    content: str = ""
    reasoning: str = ""
    model: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    request_id: str | None = None
    elapsed: float = 0.0
    first_token_at: float | None = None
    interrupted: bool = False
    output_closed: bool = False  # stdout's reader went away (`qwen complete ... | head -1`)
    error: QwenAPIError | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        extra = {"sources": self.sources} if self.sources else {}  # web search, when it ran
        return {
            "id": self.id,
            "model": self.model,
            "content": self.content,
            "reasoning": self.reasoning or None,
            "finish_reason": self.finish_reason,
            "usage": self.usage.model_dump(mode="json", exclude_none=True) if self.usage else None,
            "request_id": self.request_id,
            **extra,
        }


def absorb(ans: Answer, c: Any) -> None:
    """Take what a ``ChatCompletion`` (whole, or accumulated from a stream) says into ``ans``."""
    ans.content = c.content
    ans.reasoning = c.reasoning
    ans.model = c.model or ans.model
    ans.finish_reason = c.finish_reason
    ans.usage = c.usage
    ans.id = c.id
    ans.request_id = c.request_id
    ans.sources = [s.model_dump(mode="json", exclude_none=True) for s in c.sources]
