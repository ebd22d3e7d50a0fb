"""`qwen upload` with ``--provider qwen-web``: images through chat.qwen.ai's own upload.

The web API takes images only: each is uploaded with temporary storage
credentials (STS), then the question goes with image blocks that refer to it.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import typer

from qwen_cli.errors import EXIT_INTERRUPTED, UsageError
from qwen_cli.safetext import shown

if TYPE_CHECKING:
    from qwen_cli.attachments import Attachment
    from qwen_cli.cli.options import Ask
    from qwen_cli.config import Settings


def run(ask: Ask, atts: list[Attachment], question: str | None, settings: Settings) -> None:
    from qwen_cli.cli import answer
    from qwen_cli.types import ContentPart, Message, TextPart

    documents = [a for a in atts if not a.is_image]
    if documents:
        raise UsageError(
            f"{documents[0].shown}: chat.qwen.ai takes images only",
            hint="ask about documents with --provider dashscope, which reads them with qwen-long",
        )
    out = answer.Output.detect(ask, settings)
    client = answer.client_for(settings)
    with client:
        files = [client.files.web_upload(a, oss_endpoint=settings.oss_endpoint) for a in atts]
        if question is None:
            for a, f in zip(atts, files, strict=True):
                line = (
                    json.dumps({"path": str(a.path), "url": f.file_url, "file_id": f.file_id})
                    if ask.json
                    else f.file_url
                )
                sys.stdout.write(shown(line + "\n", sys.stdout, json=ask.json))  # a server's URL
            sys.stdout.flush()
            return
        content: list[ContentPart] = [TextPart(text=question), *(f.image_part() for f in files)]
        messages = [Message(role="system", content=ask.system)] if ask.system else []
        messages.append(Message(role="user", content=content))
        req = answer.build_request(client, ask, settings, messages, model=ask.model or settings.model)
        result = answer.run(client, req, out)
    if result.error is not None:
        raise result.error
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
