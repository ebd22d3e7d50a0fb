"""Sending files: the Files API and DashScope's temporary upload, sync and async side by side.

``Files(client)`` wraps a :class:`qwen_cli.client.Qwen`; every request is built once in
``qwen_cli.providers.files`` and sent with ``client.send``/``client.asend`` (so retries,
timeouts and error mapping are the chat's). Files are streamed from disk, never read whole,
and ``progress(bytes_sent)`` is called as they go.

For ``qwen upload`` and ``/attach`` in ``qwen chat``::

    att = attachments.inspect("cat.png")                  # UsageError before anything is sent
    sent = Files(client).prepare([att], model="qwen-vl-max")
    messages, headers = attachments.compose("what is this?", sent, system=None)
    req = client.chat.request(messages, model="qwen-vl-max", stream=True, extra_headers=headers)

``prepare`` uploads all or nothing: when one upload fails (or Ctrl-C stops it), the documents
it already uploaded are deleted again (best effort) and the error is raised, so no half-sent
message remains.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

from qwen_cli import attachments as A
from qwen_cli.errors import APIStatusError, NotFoundError, QwenAPIError, UsageError
from qwen_cli.providers import files as F
from qwen_cli.types import FileObject, UploadPolicy

if TYPE_CHECKING:
    from qwen_cli.client import Qwen

ProgressHook = Callable[[int], None]
ProgressFactory = Callable[[A.Attachment], ProgressHook | None]
FileList = list[FileObject]
SentList = list[A.Sent]
ViaList = list[A.Via]  # `list` is a method name inside Files
MAX_PAGES = 100


class _Reading(io.BufferedReader):
    """A file that reports how far it has been read (httpx reads it in 64 KB pieces)."""

    def __init__(self, raw: io.FileIO, hook: ProgressHook | None) -> None:
        super().__init__(raw)
        self._hook = hook

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if self._hook is not None:
            self._hook(self.tell())
        return data


@contextlib.contextmanager
def _open(att: A.Attachment, hook: ProgressHook | None) -> Iterator[BinaryIO]:
    try:
        raw = io.FileIO(att.path, "rb")
    except OSError as exc:
        raise UsageError(
            f"cannot read {att.shown}: {(exc.strerror or str(exc)).lower()}",
            hint="check the file's permissions",
        ) from None
    with _Reading(raw, hook) as f:
        if os.fstat(f.fileno()).st_size != att.size:
            raise UsageError(f"{att.shown} changed since it was checked", hint="run the command again")
        yield f


def _no_endpoint(err: NotFoundError, what: str) -> NotFoundError:
    err.hint = f"this server has no {what}; it is a DashScope feature (--region cn)"
    return err


def _check_policy(att: A.Attachment, policy: UploadPolicy) -> None:
    if policy.max_file_size_mb and att.size > policy.max_file_size_mb * A.MB:
        raise UsageError(
            f"{att.shown} is {A.human_size(att.size)}: over the temporary upload's limit of "
            f"{policy.max_file_size_mb:g} MB",
            hint="shrink or compress the image",
        )


class Files:
    """Upload, list and delete files; send attachments for a chat request."""

    def __init__(
        self, client: Qwen, *, native_url: str | None = None, inline_limit: int = A.INLINE_LIMIT
    ) -> None:
        self._c = client
        self.inline_limit = inline_limit
        self.native_url = native_url if native_url is not None else F.native_url(client.base_url)

    @property
    def client(self) -> Qwen:
        return self._c

    @property
    def oss_available(self) -> bool:
        """Whether the temporary upload exists here (DashScope's native API)."""
        return self.native_url is not None

    def _native(self) -> str:
        if self.native_url is None:
            raise UsageError(
                f"{self._c.base_url} has no temporary upload for images",
                hint="use DashScope (--region cn), whose base URL ends in /compatible-mode/v1",
            )
        return self.native_url

    def plan(self, atts: Sequence[A.Attachment], *, via_oss: bool = False) -> ViaList:
        return A.plan(atts, via_oss=via_oss, oss_available=self.oss_available, inline_limit=self.inline_limit)

    # ------------------------------------------------------------------ sync

    def upload(
        self, att: A.Attachment, *, purpose: str = F.PURPOSE, progress: ProgressHook | None = None
    ) -> FileObject:
        """Upload to the Files API (``purpose`` file-extract by default)."""
        c = self._c
        with _open(att, progress) as f:
            spec = F.upload_request(c.base_url, c.api_key, att.upload_name, f, att.mime, purpose)
            try:
                return F.parse_file(c.request_json(spec))
            except NotFoundError as err:
                raise _no_endpoint(err, "Files API") from None

    def list(self) -> FileList:
        c = self._c
        out: FileList = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            try:
                page, more = F.parse_list(c.request_json(F.list_request(c.base_url, c.api_key, after)))
            except NotFoundError as err:
                raise _no_endpoint(err, "Files API") from None
            out += page
            if not more or page[-1].id == after:
                break
            after = page[-1].id
        return out

    def delete(self, file_id: str) -> None:
        c = self._c
        try:
            F.check_deleted(c.request_json(F.delete_request(c.base_url, c.api_key, file_id)), file_id)
        except NotFoundError as err:
            raise F.not_found_hint(err) from None

    def temporary_upload(self, att: A.Attachment, *, model: str, progress: ProgressHook | None = None) -> str:
        """Upload through a temporary-upload policy for ``model``; returns ``oss://<key>``."""
        c = self._c
        try:
            policy = F.parse_policy(c.request_json(F.policy_request(self._native(), c.api_key, model)))
        except NotFoundError as err:
            raise _no_endpoint(err, "temporary upload") from None
        _check_policy(att, policy)
        key = F.object_key(policy, att.upload_name)
        with _open(att, progress) as f:
            try:
                c.send(F.oss_form_request(policy, key, att.upload_name, f, att.mime))
            except APIStatusError as err:
                raise F.oss_error(err, att.shown) from None
        return f"oss://{key}"

    def send(
        self, att: A.Attachment, via: A.Via, *, model: str, progress: ProgressHook | None = None
    ) -> A.Sent:
        if via == "inline":
            return A.inline(att)
        if via == "oss":
            url = self.temporary_upload(att, model=model, progress=progress)
            return A.Sent(att, "oss", url=url, model=model)
        return A.Sent(att, "file", file_id=self.upload(att, progress=progress).id)

    def prepare(
        self,
        atts: Sequence[A.Attachment],
        *,
        model: str,
        via_oss: bool = False,
        progress: ProgressFactory | None = None,
    ) -> SentList:
        """Send every attachment for one question, or none (see the module docstring)."""
        vias = self.plan(atts, via_oss=via_oss)
        sent: SentList = []
        try:
            for att, via in zip(atts, vias, strict=True):
                sent.append(self.send(att, via, model=model, progress=progress(att) if progress else None))
        except (QwenAPIError, KeyboardInterrupt):  # Ctrl-C too: no stray uploads
            for s in sent:
                if s.file_id:
                    with contextlib.suppress(QwenAPIError):
                        self.delete(s.file_id)
            raise
        return sent

    # ------------------------------------------------------------------ async

    async def aupload(
        self, att: A.Attachment, *, purpose: str = F.PURPOSE, progress: ProgressHook | None = None
    ) -> FileObject:
        c = self._c
        with _open(att, progress) as f:
            spec = F.upload_request(c.base_url, c.api_key, att.upload_name, f, att.mime, purpose)
            try:
                return F.parse_file(await c.arequest_json(spec))
            except NotFoundError as err:
                raise _no_endpoint(err, "Files API") from None

    async def alist(self) -> FileList:
        c = self._c
        out: FileList = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            spec = F.list_request(c.base_url, c.api_key, after)
            try:
                page, more = F.parse_list(await c.arequest_json(spec))
            except NotFoundError as err:
                raise _no_endpoint(err, "Files API") from None
            out += page
            if not more or page[-1].id == after:
                break
            after = page[-1].id
        return out

    async def adelete(self, file_id: str) -> None:
        c = self._c
        try:
            body = await c.arequest_json(F.delete_request(c.base_url, c.api_key, file_id))
            F.check_deleted(body, file_id)
        except NotFoundError as err:
            raise F.not_found_hint(err) from None

    async def atemporary_upload(
        self, att: A.Attachment, *, model: str, progress: ProgressHook | None = None
    ) -> str:
        c = self._c
        spec = F.policy_request(self._native(), c.api_key, model)
        try:
            policy = F.parse_policy(await c.arequest_json(spec))
        except NotFoundError as err:
            raise _no_endpoint(err, "temporary upload") from None
        _check_policy(att, policy)
        key = F.object_key(policy, att.upload_name)
        with _open(att, progress) as f:
            try:
                await c.asend(F.oss_form_request(policy, key, att.upload_name, f, att.mime))
            except APIStatusError as err:
                raise F.oss_error(err, att.shown) from None
        return f"oss://{key}"

    async def asend(
        self, att: A.Attachment, via: A.Via, *, model: str, progress: ProgressHook | None = None
    ) -> A.Sent:
        if via == "inline":
            return A.inline(att)
        if via == "oss":
            url = await self.atemporary_upload(att, model=model, progress=progress)
            return A.Sent(att, "oss", url=url, model=model)
        return A.Sent(att, "file", file_id=(await self.aupload(att, progress=progress)).id)

    async def aprepare(
        self,
        atts: Sequence[A.Attachment],
        *,
        model: str,
        via_oss: bool = False,
        progress: ProgressFactory | None = None,
    ) -> SentList:
        vias = self.plan(atts, via_oss=via_oss)
        sent: SentList = []
        try:
            for att, via in zip(atts, vias, strict=True):
                hook = progress(att) if progress else None
                sent.append(await self.asend(att, via, model=model, progress=hook))
        except (QwenAPIError, KeyboardInterrupt):  # Ctrl-C too: no stray uploads
            for s in sent:
                if s.file_id:
                    with contextlib.suppress(QwenAPIError):
                        await self.adelete(s.file_id)
            raise
        return sent
