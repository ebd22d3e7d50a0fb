"""The files of a chat: ``/attach`` checks them, a message takes them, later turns resend them.

One implementation with ``qwen upload``: a file is checked by ``attachments.inspect`` (and,
with the others waiting, by ``check_together`` and ``Files.plan``) the moment it is attached,
and sent by ``Files.prepare`` when the message is sent, before anything is written to the
store, so a failed upload leaves no half-sent message and the attachments stay pending. The
store keeps ``Sent.record()`` of each file: a reference (path, type, size, sha256, how it was
sent, the ``oss://`` URL or the file id), never its bytes.

On later turns each reference is sent again:

* an inline image is read again from disk (``attachments.inline`` checks its sha256);
* an ``oss://`` URL is reused while it is valid (48 hours, and only with the model it was
  uploaded for); after that the file is uploaded again from disk, once per session;
* a document's file id goes into the ``fileid://`` system message of every turn;
* a file that is gone or changed, or that the current model cannot take, becomes a short note
  in the message's text instead of failing the turn.

Only a conversation with files comes here: a plain text turn never imports this module's
collaborators (``attachments``, ``uploads``). What the user sees while files go (progress
bars, "uploaded ..." lines) is the caller's :class:`FileView`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from qwen_cli.errors import UsageError
from qwen_cli.structs import struct

if TYPE_CHECKING:
    from qwen_cli.attachments import Attachment, Sent, Via
    from qwen_cli.catalog import ModelSpec
    from qwen_cli.client import Qwen
    from qwen_cli.config import Settings
    from qwen_cli.store import Attachment as Stored
    from qwen_cli.store import Exchange
    from qwen_cli.types import Message as Wire
    from qwen_cli.uploads import Files, ProgressFactory, ProgressHook

ATTACH_HINT = "/attach PATH: an image (PNG, JPEG, WEBP, GIF, BMP, TIFF) or a document (PDF, DOCX, TXT, ...)"
MARGIN = 3600  # an oss:// URL this close to expiring is uploaded again rather than reused


def unquote(raw: str) -> str:
    """The path as typed after ``/attach``, without the quotes around a path with spaces."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text


class Bars(Protocol):
    def hook(self, att: Attachment) -> ProgressHook | None: ...


class FileView(Protocol):
    """How files going out are shown: progress while they upload, a line once each is sent."""

    @property
    def recall(self) -> str:
        """How the user gets a refused message back, for the hint (" (Up recalls it)")."""
        ...

    def bars(self) -> AbstractContextManager[Bars]: ...

    def told(self, sent: Sent) -> None: ...


class _NoBars:
    def hook(self, att: Attachment) -> ProgressHook | None:
        return None


class Unseen:
    """A FileView that shows nothing (library use, tests)."""

    recall = ""

    @contextlib.contextmanager
    def bars(self) -> Iterator[Bars]:
        yield _NoBars()

    def told(self, sent: Sent) -> None:
        pass


@struct
class InlineBudget:
    """Image bytes a request may still carry inline (DashScope takes bodies of about 10 MB)."""

    left: int


def has_files(exchanges: Sequence[Exchange]) -> bool:
    """Whether any message of ``exchanges`` carried a file (then turns go through ChatFiles)."""
    return any(ex.user.attachments for ex in exchanges)


class ChatFiles:
    """Pending attachments, their upload when a message is sent, and references sent again."""

    def __init__(self, client: Qwen, settings: Settings, view: FileView | None = None) -> None:
        self.client, self.settings = client, settings
        self.view: FileView = view or Unseen()
        self.pending: list[Attachment] = []
        self._api: Files | None = None
        self._again: dict[tuple[int, str], Sent] = {}  # (row id, model): an oss:// upload made again

    @property
    def api(self) -> Files:
        if self._api is None:
            self._api = self.client.files
        return self._api

    # ------------------------------------------------------------------ /attach

    def add(self, raw: str) -> tuple[Attachment, Via]:
        """Check the file ``raw`` names and keep it for the next message; how it will travel.

        Raises ``UsageError`` on bad input, and nothing is added.
        """
        from qwen_cli import attachments as A

        path = unquote(raw)
        if not path:
            raise UsageError("/attach needs a file", hint=ATTACH_HINT)
        att = A.inspect(path)
        together = [*self.pending, att]
        try:
            A.check_together(together)
        except UsageError as err:
            hint = (
                "send them with separate messages (images go to a vision model, documents to "
                "qwen-long); /attach - drops what is attached"
            )
            raise err.evolve(hint=hint) from err
        via = self.api.plan(together)[-1]
        self.pending.append(att)
        return att, via

    def other_model(self, model: str) -> str | None:
        """The model to switch to when ``model`` cannot take what is attached."""
        from qwen_cli import attachments as A

        return A.model_for(model, self.pending, vision_model=self.settings.vision_model)

    # ------------------------------------------------------------------ sending a message

    def upload(self, model: str) -> list[Sent]:
        """Send what is attached for a message to ``model``: all of it, or raise (pending kept)."""
        if not self.pending:
            return []
        from qwen_cli import attachments as A

        try:
            A.check_model(model, self.pending, vision_model=self.settings.vision_model, switch="/model")
        except UsageError as err:
            hint = f"{err.hint}, then send your message again{self.view.recall}; the attachment is kept"
            raise err.evolve(hint=hint) from err
        with self.view.bars() as bars:
            progress: ProgressFactory = bars.hook
            sent = self.api.prepare(self.pending, model=model, progress=progress)
        for s in sent:
            self.view.told(s)
        return sent

    # ------------------------------------------------------------------ every turn

    def budget(self, fresh: Sequence[Sent] = ()) -> InlineBudget:
        """What earlier images may take inline in a request that carries ``fresh`` ones too."""
        from qwen_cli.attachments import INLINE_LIMIT

        used = sum(s.attachment.size for s in fresh if s.via == "inline")
        return InlineBudget(max(0, INLINE_LIMIT - used))

    def files_message(self, exchanges: Sequence[Exchange], spec: ModelSpec) -> list[Wire]:
        """qwen-long's ``fileid://`` system message: every document of the conversation so far."""
        from qwen_cli.types import Message as Wire

        if spec.known and not spec.documents:
            return []
        ids = [a.file_id for ex in exchanges for a in ex.user.attachments if a.file_id and not a.is_image]
        ids = list(dict.fromkeys(ids))
        return [Wire(role="system", content="fileid://" + ",".join(ids))] if ids else []

    def wire(
        self,
        text: str,
        stored: Sequence[Stored],
        spec: ModelSpec,
        budget: InlineBudget,
        fresh: Sequence[Sent] | None = None,
    ) -> Wire:
        """A user message as sent to ``spec.id``: its images (``fresh`` ones just uploaded, or
        its stored references sent again) before its text, and a note for what cannot go."""
        from qwen_cli import attachments as A

        notes: list[str] = []
        images = [a for a in stored if a.is_image]
        docs = [a for a in stored if not a.is_image]
        if docs and spec.known and not spec.documents:
            notes.append(f"[document not shown to this model: {', '.join(a.path for a in docs)}]")
        sent: list[Sent] = []
        if images and spec.known and not spec.vision:
            notes.append(f"[image not shown to this model: {', '.join(a.path for a in images)}]")
        elif fresh is not None:
            sent = [s for s in fresh if s.attachment.is_image]
        else:
            for a in images:
                got = self._again_or_note(a, spec.id, budget)
                if isinstance(got, str):
                    notes.append(got)
                else:
                    sent.append(got)
        return A.user_message("\n\n".join([text, *notes]), sent)

    def _again_or_note(self, a: Stored, model: str, budget: InlineBudget) -> Sent | str:
        """A stored image, ready to send again, or the note that replaces it."""
        from qwen_cli import attachments as A

        ref = A.restore(a.record())
        if ref.via == "oss" and ref.url and ref.model == model and _fresh(a.created_at):
            return ref
        if a.id is not None and (a.id, model) in self._again:
            return self._again[(a.id, model)]
        path = ref.attachment.path
        if not path.is_file():
            return f"[image {path} is no longer on disk: not sent again]"
        if ref.attachment.size <= budget.left:
            try:
                sent = A.inline(ref.attachment)
            except UsageError:
                return f"[image {path} changed since it was attached: not sent again]"
            budget.left -= ref.attachment.size
            return sent
        if not self.api.oss_available:
            return f"[image {path} left out: too large to send inline with the rest of this request]"
        try:
            current = A.inspect(path)
        except UsageError:
            current = None
        if current is None or current.sha256 != ref.attachment.sha256:
            return f"[image {path} changed since it was attached: not sent again]"
        with self.view.bars() as bars:
            sent = self.api.send(current, "oss", model=model, progress=bars.hook(current))
        self.view.told(sent)
        if a.id is not None:
            self._again[(a.id, model)] = sent
        return sent


def _fresh(uploaded_at: float | None) -> bool:
    from qwen_cli.attachments import OSS_LIFETIME

    return uploaded_at is not None and time.time() - uploaded_at < OSS_LIFETIME - MARGIN
