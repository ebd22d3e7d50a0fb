"""Files sent with a question: checked before anything is sent, then turned into message parts.

The pure half of ``qwen upload`` and of ``/attach`` in ``qwen chat``; no printing, no httpx.

* :func:`inspect` checks one path and returns an :class:`Attachment` (or raises a
  ``UsageError``, exit code 2, with a hint): missing, a directory, unreadable, empty, a type
  we cannot send, an image with a side of 10 px or less, an image too large for the
  temporary upload, a document over the Files API limit.
* :func:`check_model` refuses a text-only model for images and a non-document model for
  documents (:func:`model_for` names the model to use instead); :func:`plan` decides how
  each file travels (``inline`` data URL, ``oss`` temporary upload, ``file`` Files API).
* Once uploaded (``qwen_cli.uploads``), each file is a :class:`Sent`; :func:`compose` turns
  the question and the sent files into the messages and headers of one chat request, and
  :meth:`Sent.record` is what a conversation store keeps (a reference, never the bytes);
  :func:`restore` turns a record back into a :class:`Sent` for a later turn of a chat.

Limits. DashScope takes a request body of about 10 MB; base64 grows data by 4/3, so images
go inline only while their raw bytes add up to at most :data:`INLINE_LIMIT` (7 MB, 9.3 MB
encoded), and through the temporary upload above that (:data:`OSS_LIMIT`, 100 MB, or the
policy's ``max_file_size_mb``). Documents go through the Files API, up to
:data:`DOCUMENT_LIMIT` (150 MB).
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from qwen_cli import catalog, filetypes
from qwen_cli.errors import UsageError
from qwen_cli.structs import struct
from qwen_cli.types import ContentPart, ImagePart, ImageURL, Message, TextPart

MB = 1024 * 1024
INLINE_LIMIT = 7 * MB
OSS_LIMIT = 100 * MB
DOCUMENT_LIMIT = 150 * MB
MIN_SIDE = 10  # both sides must be larger than this
OSS_HEADER = "X-DashScope-OssResourceResolve"
OSS_LIFETIME = 48 * 3600  # seconds an oss:// URL of the temporary upload stays valid
_CHUNK = 1 << 20

Via = Literal["inline", "oss", "file"]
_TYPES_HINT = f"send images ({filetypes.IMAGE_NAMES}) or documents ({filetypes.DOCUMENT_NAMES})"


@struct(frozen=True)
class Attachment:
    """One checked file. ``path`` is absolute; ``shown`` is the path as the user gave it."""

    path: Path
    shown: str
    kind: filetypes.Kind
    type: str  # "png", "pdf", ... (filetypes.TYPES key)
    mime: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def is_image(self) -> bool:
        return self.kind == "image"

    @property
    def upload_name(self) -> str:
        """The file name to upload under: its own, with the right extension added if missing."""
        ftype = filetypes.TYPES[self.type]
        if filetypes.suffix_of(self.name) in ftype.extensions:
            return self.name
        return self.name + ftype.extensions[0]

    def describe(self) -> str:
        dims = f", {self.width}x{self.height} px" if self.width else ""
        ftype = filetypes.TYPES.get(self.type)
        return f"{self.shown} ({ftype.label if ftype else self.mime}, {human_size(self.size)}{dims})"


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < MB:
        return f"{n / 1024:.1f} KB"
    return f"{n / MB:.1f} MB"


# --------------------------------------------------------------------------- checking


def inspect(path: str | os.PathLike[str]) -> Attachment:
    """Check ``path`` and describe it, reading it once (type, size, hash); raise ``UsageError``."""
    shown = os.fspath(path)
    p = Path(shown).expanduser()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise UsageError(
            f"{shown}: no such file", hint=f"check the path (relative paths start in {Path.cwd()})"
        ) from None
    except OSError as exc:
        raise _unreadable(shown, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(
            f"{shown} is a directory, not a file",
            hint=f"name the files inside it, e.g. {shown.rstrip('/')}/*.png",
        )
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{shown} is not a regular file", hint="give the path of a file on disk")
    if st.st_size == 0:
        raise UsageError(f"{shown} is empty (0 bytes)", hint="nothing to send: check the file was saved")
    try:
        with open(p, "rb") as f:
            try:
                ftype = filetypes.detect(f, p.name)
            except filetypes.Unsupported as exc:
                raise UsageError(f"{shown}: cannot send {exc.what}", hint=_hint_for(exc.what)) from None
            _check_size(shown, ftype, st.st_size)
            dims = None
            if ftype.kind == "image":
                dims = filetypes.image_size(f, ftype)
                _check_dims(shown, ftype, dims)
            digest = _digest(f, shown, ftype)
    except OSError as exc:
        raise _unreadable(shown, exc) from None
    return Attachment(
        path=p.resolve(),
        shown=shown,
        kind=ftype.kind,
        type=ftype.name,
        mime=ftype.mime,
        size=st.st_size,
        sha256=digest,
        width=dims[0] if dims else None,
        height=dims[1] if dims else None,
    )


class Problems(UsageError):
    """Several files cannot be sent: ``problems`` holds each one's error, told one by one."""

    def __init__(self, problems: list[UsageError]) -> None:
        self.problems = problems  # before super().__init__(): errors are immutable after it
        super().__init__(
            f"{len(problems)} files cannot be sent",
            hint="fix or leave out each file named above; nothing was sent",
        )


def inspect_all(paths: Sequence[str | os.PathLike[str]]) -> list[Attachment]:
    """:func:`inspect` each path; every file's problem at once (:class:`Problems`), not the first."""
    atts: list[Attachment] = []
    problems: list[UsageError] = []
    for path in paths:
        try:
            atts.append(inspect(path))
        except UsageError as err:
            problems.append(err)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise Problems(problems)
    return atts


def _unreadable(shown: str, exc: OSError) -> UsageError:
    reason = (exc.strerror or str(exc)).lower()
    return UsageError(f"cannot read {shown}: {reason}", hint="check the file's permissions")


def _hint_for(what: str) -> str:
    if "text" in what:
        return (
            "text goes as UTF-8 .txt, .md, .csv or .json; for source code use "
            '`qwen complete "question" < FILE`'
        )
    return _TYPES_HINT


def _check_size(shown: str, ftype: filetypes.FileType, size: int) -> None:
    if ftype.kind == "image" and size > OSS_LIMIT:
        raise UsageError(
            f"{shown} is {human_size(size)}: too large to send inline ({human_size(INLINE_LIMIT)}) "
            f"or through the temporary upload ({human_size(OSS_LIMIT)})",
            hint="shrink or compress the image",
        )
    if ftype.kind == "document" and size > DOCUMENT_LIMIT:
        raise UsageError(
            f"{shown} is {human_size(size)}: over the Files API limit of {human_size(DOCUMENT_LIMIT)}",
            hint="split the document into smaller files",
        )


def _check_dims(shown: str, ftype: filetypes.FileType, dims: tuple[int, int] | None) -> None:
    if dims is None:
        raise UsageError(
            f"{shown}: cannot read the size of this {ftype.label}; the file looks damaged",
            hint="open and re-save it with an image editor",
        )
    w, h = dims
    if w <= MIN_SIDE or h <= MIN_SIDE:
        raise UsageError(
            f"{shown} is {w}x{h} px: too small for the model, both sides must be over {MIN_SIDE} px",
            hint=f"use a larger image (at least {MIN_SIDE + 1}x{MIN_SIDE + 1} px)",
        )


def _digest(f: Any, shown: str, ftype: filetypes.FileType) -> str:
    f.seek(0)
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")() if ftype.text else None
    while chunk := f.read(_CHUNK):
        h.update(chunk)
        if decoder is not None:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                decoder = None
                raise UsageError(
                    f"{shown}: cannot send a {ftype.extensions[0]} file that is not UTF-8 text",
                    hint="save it as UTF-8 and try again",
                ) from None
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UsageError(
                f"{shown}: the text ends in the middle of a UTF-8 character",
                hint="save it as UTF-8 and try again",
            ) from None
    return h.hexdigest()


def check_together(attachments: Sequence[Attachment]) -> None:
    """Refuse images and documents in one question: they go to different models."""
    images = [a for a in attachments if a.is_image]
    docs = [a for a in attachments if not a.is_image]
    if images and docs:
        raise UsageError(
            f"cannot ask about images ({images[0].shown}) and documents ({docs[0].shown}) together",
            hint="ask about them in two commands: images go to a vision model, documents to qwen-long",
        )


def model_for(
    model: str, attachments: Sequence[Attachment], *, vision_model: str = "qwen-vl-max"
) -> str | None:
    """``None`` when ``model`` can take these files, else the model to use instead.

    Unknown models are given the benefit of the doubt.
    """
    spec = catalog.lookup(model)
    if not spec.known:
        return None
    if any(a.is_image for a in attachments) and not spec.vision:
        return vision_model
    if any(not a.is_image for a in attachments) and not spec.documents:
        return catalog.DEFAULT_DOCUMENT_MODEL
    return None


def check_model(
    model: str, attachments: Sequence[Attachment], *, vision_model: str = "qwen-vl-max", switch: str = "-m"
) -> None:
    """Refuse a model that cannot take these files; ``switch`` is how the hint says to change it."""
    check_together(attachments)
    other = model_for(model, attachments, vision_model=vision_model)
    if other is None:
        return
    if any(a.is_image for a in attachments):
        raise UsageError(
            f"{model} cannot see images",
            hint=f"use a vision model: {switch} {vision_model} (QWEN_VISION_MODEL sets the default)",
        )
    raise UsageError(f"{model} cannot read uploaded documents", hint=f"use {switch} {other}")


def plan(
    attachments: Sequence[Attachment],
    *,
    via_oss: bool = False,
    oss_available: bool = True,
    inline_limit: int = INLINE_LIMIT,
) -> list[Via]:
    """How each file travels: documents by the Files API, images inline while they fit."""
    out: list[Via] = []
    inline_total = 0
    for a in attachments:
        if not a.is_image:
            out.append("file")
        elif via_oss:
            if not oss_available:
                raise _no_oss(f"--via-oss needs DashScope's temporary upload ({a.shown})")
            out.append("oss")
        elif inline_total + a.size <= inline_limit:
            inline_total += a.size
            out.append("inline")
        elif oss_available:
            out.append("oss")
        else:
            raise _no_oss(
                f"{a.shown} is {human_size(a.size)}: too large to send inline "
                f"({human_size(inline_limit)} in all)"
            )
    return out


def _no_oss(message: str) -> UsageError:
    return UsageError(
        message + ", and this base URL has no temporary upload",
        hint="use DashScope (--region cn) for the temporary upload, or send smaller images",
    )


# --------------------------------------------------------------------------- sending


@struct(frozen=True)
class Sent:
    """An attachment as it went out: inline (``url`` is a data: URL), ``oss://`` or a file id."""

    attachment: Attachment
    via: Via
    url: str | None = None
    file_id: str | None = None
    model: str | None = None  # the model an oss:// upload is bound to

    @property
    def reference(self) -> str:
        """What scripts get: the file id, the oss:// URL, or ``inline`` (nothing stored remotely)."""
        if self.file_id:
            return self.file_id
        if self.via == "oss" and self.url:
            return self.url
        return "inline"

    def record(self) -> dict[str, Any]:
        """What a conversation store keeps for this attachment: a reference, not the bytes."""
        a = self.attachment
        return {
            "path": str(a.path),
            "kind": a.kind,
            "type": a.type,
            "mime": a.mime,
            "size": a.size,
            "sha256": a.sha256,
            "width": a.width,
            "height": a.height,
            "via": self.via,
            "url": self.url if self.via == "oss" else None,
            "file_id": self.file_id,
            "model": self.model,
        }


def inline(attachment: Attachment) -> Sent:
    """The image as a ``data:`` URL, read now; refuses a file that changed since it was checked."""
    try:
        data = attachment.path.read_bytes()
    except OSError as exc:
        raise _unreadable(attachment.shown, exc) from None
    if len(data) != attachment.size or hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise UsageError(f"{attachment.shown} changed while it was being sent", hint="run the command again")
    url = f"data:{attachment.mime};base64,{base64.b64encode(data).decode('ascii')}"
    return Sent(attachment, "inline", url=url)


def restore(record: Mapping[str, Any]) -> Sent:
    """A :class:`Sent` back from what :meth:`Sent.record` gave (or an older, sparser record).

    An inline image comes back without its ``data:`` URL (records never keep one): read it
    again with :func:`inline`, which also checks that the file is still the same.
    """
    mime = str(record["mime"])
    ftype = filetypes.TYPES.get(str(record.get("type") or "")) or next(
        (t for t in filetypes.TYPES.values() if t.mime == mime), None
    )
    kind = record.get("kind") or (
        ftype.kind if ftype else "image" if mime.startswith("image/") else "document"
    )
    url = record.get("url") or None
    file_id = record.get("file_id") or None
    via: Via = "file" if file_id else "oss" if url else "inline"
    if record.get("via") in ("inline", "oss", "file"):
        via = record["via"]
    path = Path(str(record["path"]))
    att = Attachment(
        path=path,
        shown=str(path),
        kind="image" if kind == "image" else "document",
        type=ftype.name if ftype else "",
        mime=mime,
        size=int(record["size"]),
        sha256=str(record["sha256"]),
        width=record.get("width"),
        height=record.get("height"),
    )
    return Sent(att, via, url=url if via == "oss" else None, file_id=file_id, model=record.get("model"))


def user_message(text: str, sent: Sequence[Sent]) -> Message:
    """The user's message: image parts first, then the question (a plain string without images)."""
    images = [s for s in sent if s.attachment.is_image and s.url]
    if not images:
        return Message(role="user", content=text)
    parts: list[ContentPart] = [ImagePart(image_url=ImageURL(url=s.url or "")) for s in images]
    parts.append(TextPart(text=text))
    return Message(role="user", content=parts)


def file_system_message(sent: Sequence[Sent]) -> Message | None:
    """``fileid://a,b`` for qwen-long, to go after the user's own system prompt."""
    ids = [s.file_id for s in sent if s.file_id]
    return Message(role="system", content="fileid://" + ",".join(ids)) if ids else None


def request_headers(sent: Sequence[Sent]) -> dict[str, str]:
    """``X-DashScope-OssResourceResolve: enable`` when any image is an ``oss://`` URL."""
    return {OSS_HEADER: "enable"} if any(s.via == "oss" for s in sent) else {}


def headers_for(messages: Sequence[Message]) -> dict[str, str]:
    """The same, for the messages of a whole request (a chat resends earlier images)."""
    for m in messages:
        for part in m.content if isinstance(m.content, list) else []:
            if isinstance(part, ImagePart) and part.image_url.url.startswith("oss://"):
                return {OSS_HEADER: "enable"}
    return {}


def compose(
    text: str, sent: Sequence[Sent], *, system: str | None = None
) -> tuple[list[Message], dict[str, str]]:
    """Messages (system prompt, ``fileid://`` message, user message) and headers for one request."""
    messages = [Message(role="system", content=system)] if system else []
    files = file_system_message(sent)
    if files is not None:
        messages.append(files)
    messages.append(user_message(text, sent))
    return messages, request_headers(sent)
