"""Sending files: ``client.files``, one core driven sync or async.

Every operation (Files API upload, list, delete; DashScope's temporary upload; chat.qwen.ai's
STS upload; sending all the attachments of one question) is written once, as a generator that
yields the requests it needs (built in ``qwen_cli.providers.files`` and
``qwen_cli.providers.qwen_web_files``) and is sent back their answers, or the error they
raised. ``Files.x()`` drives it with ``client.send``, ``await Files.ax()`` with
``client.asend``, so retries, timeouts and error mapping are the chat's. Files are streamed
from disk, never read whole, and ``progress(bytes_sent)`` is called as they go.

For ``qwen upload`` and ``/attach`` in ``qwen chat``::

    att = attachments.inspect("cat.png")                  # UsageError before anything is sent
    sent = client.files.prepare([att], model="qwen-vl-max")
    messages, headers = attachments.compose("what is this?", sent, system=None)
    req = client.chat.request(messages, model="qwen-vl-max", stream=True, extra_headers=headers)

``prepare`` uploads all or nothing: when one upload fails (or Ctrl-C stops it), the documents
it already uploaded are deleted again (best effort) and the error is raised, so no half-sent
message remains.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from qwen_cli import attachments as A
from qwen_cli import structs
from qwen_cli.errors import (
    ORIGIN_FILES_API,
    ORIGIN_TEMPORARY_UPLOAD,
    APIStatusError,
    NotFoundError,
    QwenAPIError,
    UsageError,
)
from qwen_cli.providers import files as F
from qwen_cli.providers import qwen_web_files as W
from qwen_cli.providers.base import RequestSpec
from qwen_cli.types import FileObject, UploadPolicy

if TYPE_CHECKING:
    from qwen_cli.client import Qwen

ProgressHook = Callable[[int], None]
ProgressFactory = Callable[[A.Attachment], ProgressHook | None]
FileList = list[FileObject]
SentList = list[A.Sent]
ViaList = list[A.Via]  # `list` is a method name inside Files
MAX_PAGES = 100
CHUNK = 64 * 1024
T = TypeVar("T")


@structs.struct
class Call:
    """One request an operation needs: answered with the parsed body, or the response."""

    spec: RequestSpec
    json: bool = True


Steps = Generator[Call, Any, T]


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


class FileBody:
    """A file as a raw request body, read in pieces, from its start again on a retry."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f

    def __iter__(self) -> Iterator[bytes]:
        self._f.seek(0)
        while chunk := self._f.read(CHUNK):
            yield chunk


class _AsyncFileBody:
    """The same for the async sender (httpx streams only async iterables there)."""

    def __init__(self, body: FileBody) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._body:
            yield chunk


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


def _md5(att: A.Attachment) -> str:
    digest = hashlib.md5()
    with _open(att, None) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def _no_endpoint(err: NotFoundError, what: str) -> NotFoundError:
    """A 404 for the endpoint of ``what`` (an ``ORIGIN_*``): cli/hints.py says it is DashScope's."""
    return err.evolve(origin=what)


def _check_policy(att: A.Attachment, policy: UploadPolicy) -> None:
    if policy.max_file_size_mb and att.size > policy.max_file_size_mb * A.MB:
        raise UsageError(
            f"{att.shown} is {A.human_size(att.size)}: over the temporary upload's limit of "
            f"{policy.max_file_size_mb:g} MB",
            hint="shrink or compress the image",
        )


def _checked(att: A.Attachment | str | os.PathLike[str]) -> A.Attachment:
    return att if isinstance(att, A.Attachment) else A.inspect(att)


class Files:
    """Upload, list and delete files; send attachments for a chat request (``client.files``)."""

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

    # ------------------------------------------------------------------ the core

    def _upload(self, att: A.Attachment, purpose: str, progress: ProgressHook | None) -> Steps[FileObject]:
        c = self._c
        with _open(att, progress) as f:
            spec = F.upload_request(c.base_url, c.api_key, att.upload_name, f, att.mime, purpose)
            try:
                body = yield Call(spec)
            except NotFoundError as err:
                raise _no_endpoint(err, ORIGIN_FILES_API) from err
        return F.parse_file(body)

    def _list(self) -> Steps[FileList]:
        c = self._c
        out: FileList = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            try:
                page, more = F.parse_list((yield Call(F.list_request(c.base_url, c.api_key, after))))
            except NotFoundError as err:
                raise _no_endpoint(err, ORIGIN_FILES_API) from err
            out += page
            if not more or page[-1].id == after:
                break
            after = page[-1].id
        return out

    def _delete(self, file_id: str) -> Steps[None]:
        c = self._c
        try:
            F.check_deleted((yield Call(F.delete_request(c.base_url, c.api_key, file_id))), file_id)
        except NotFoundError as err:
            raise F.about_file(err) from err

    def _temporary_upload(self, att: A.Attachment, model: str, progress: ProgressHook | None) -> Steps[str]:
        c = self._c
        spec = F.policy_request(self._native(), c.api_key, model)
        try:
            policy = F.parse_policy((yield Call(spec)))
        except NotFoundError as err:
            raise _no_endpoint(err, ORIGIN_TEMPORARY_UPLOAD) from err
        _check_policy(att, policy)
        key = F.object_key(policy, att.upload_name)
        with _open(att, progress) as f:
            try:
                yield Call(F.oss_form_request(policy, key, att.upload_name, f, att.mime), json=False)
            except APIStatusError as err:
                raise F.oss_error(err, att.shown) from err
        return f"oss://{key}"

    def _send(
        self, att: A.Attachment, via: A.Via, model: str, progress: ProgressHook | None
    ) -> Steps[A.Sent]:
        if via == "inline":
            return A.inline(att)
        if via == "oss":
            url = yield from self._temporary_upload(att, model, progress)
            return A.Sent(att, "oss", url=url, model=model)
        uploaded = yield from self._upload(att, F.PURPOSE, progress)
        return A.Sent(att, "file", file_id=uploaded.id)

    def _prepare(
        self, atts: Sequence[A.Attachment], model: str, via_oss: bool, progress: ProgressFactory | None
    ) -> Steps[SentList]:
        vias = self.plan(atts, via_oss=via_oss)
        sent: SentList = []
        try:
            for att, via in zip(atts, vias, strict=True):
                hook = progress(att) if progress else None
                sent.append((yield from self._send(att, via, model, hook)))
        except (QwenAPIError, KeyboardInterrupt):  # Ctrl-C too: no stray uploads
            for s in sent:
                if s.file_id:
                    with contextlib.suppress(QwenAPIError):
                        yield from self._delete(s.file_id)
            raise
        return sent

    def _web_upload(
        self, att: A.Attachment, oss_endpoint: str | None, progress: ProgressHook | None
    ) -> Steps[W.WebFile]:
        provider = W.check_provider(self._c.provider)
        if att.size == 0:
            raise UsageError(f"{att.shown} is empty", hint="choose a file with something in it")
        grant = W.parse_sts((yield Call(W.sts_request(provider, att.name, att.size, att.mime))))
        md5 = _md5(att)
        with _open(att, progress) as f:
            spec = W.put_request(grant, FileBody(f), att.mime, endpoint=oss_endpoint, md5=md5, size=att.size)
            yield Call(spec, json=False)
        return W.WebFile(grant.file_url, grant.file_id, att.name, att.mime, att.size)

    # ------------------------------------------------------------------ the two drivers

    def _run(self, steps: Steps[T]) -> T:
        c, answer, error = self._c, None, None
        try:
            while True:
                try:
                    call = steps.throw(error) if error is not None else steps.send(answer)
                except StopIteration as done:
                    result: T = done.value
                    return result
                answer, error = None, None
                try:
                    answer = c.request_json(call.spec) if call.json else c.send(call.spec)
                except (QwenAPIError, KeyboardInterrupt) as exc:
                    error = exc
        finally:
            steps.close()

    async def _arun(self, steps: Steps[T]) -> T:
        c, answer, error = self._c, None, None
        try:
            while True:
                try:
                    call = steps.throw(error) if error is not None else steps.send(answer)
                except StopIteration as done:
                    result: T = done.value
                    return result
                answer, error = None, None
                spec = call.spec
                if isinstance(spec.content, FileBody):
                    spec = structs.replace(spec, content=_AsyncFileBody(spec.content))
                try:
                    answer = await c.arequest_json(spec) if call.json else await c.asend(spec)
                except (QwenAPIError, KeyboardInterrupt) as exc:
                    error = exc
        finally:
            steps.close()

    # ------------------------------------------------------------------ sync and async, side by side

    def upload(
        self, att: A.Attachment, *, purpose: str = F.PURPOSE, progress: ProgressHook | None = None
    ) -> FileObject:
        """Upload to the Files API (``purpose`` file-extract by default)."""
        return self._run(self._upload(att, purpose, progress))

    async def aupload(
        self, att: A.Attachment, *, purpose: str = F.PURPOSE, progress: ProgressHook | None = None
    ) -> FileObject:
        return await self._arun(self._upload(att, purpose, progress))

    def list(self) -> FileList:
        return self._run(self._list())

    async def alist(self) -> FileList:
        return await self._arun(self._list())

    def delete(self, file_id: str) -> None:
        self._run(self._delete(file_id))

    async def adelete(self, file_id: str) -> None:
        await self._arun(self._delete(file_id))

    def temporary_upload(self, att: A.Attachment, *, model: str, progress: ProgressHook | None = None) -> str:
        """Upload through a temporary-upload policy for ``model``; returns ``oss://<key>``."""
        return self._run(self._temporary_upload(att, model, progress))

    async def atemporary_upload(
        self, att: A.Attachment, *, model: str, progress: ProgressHook | None = None
    ) -> str:
        return await self._arun(self._temporary_upload(att, model, progress))

    def send(
        self, att: A.Attachment, via: A.Via, *, model: str, progress: ProgressHook | None = None
    ) -> A.Sent:
        return self._run(self._send(att, via, model, progress))

    async def asend(
        self, att: A.Attachment, via: A.Via, *, model: str, progress: ProgressHook | None = None
    ) -> A.Sent:
        return await self._arun(self._send(att, via, model, progress))

    def prepare(
        self,
        atts: Sequence[A.Attachment],
        *,
        model: str,
        via_oss: bool = False,
        progress: ProgressFactory | None = None,
    ) -> SentList:
        """Send every attachment for one question, or none (see the module docstring)."""
        return self._run(self._prepare(atts, model, via_oss, progress))

    async def aprepare(
        self,
        atts: Sequence[A.Attachment],
        *,
        model: str,
        via_oss: bool = False,
        progress: ProgressFactory | None = None,
    ) -> SentList:
        return await self._arun(self._prepare(atts, model, via_oss, progress))

    def web_upload(
        self,
        att: A.Attachment | str | os.PathLike[str],
        *,
        oss_endpoint: str | None = None,
        progress: ProgressHook | None = None,
    ) -> W.WebFile:
        """Upload a file for chat.qwen.ai (``--provider qwen-web``); its URL goes in an image part.

        ``att`` is a checked attachment or a path (checked here, ``UsageError`` if it is bad).
        """
        return self._run(self._web_upload(_checked(att), oss_endpoint, progress))

    async def aweb_upload(
        self,
        att: A.Attachment | str | os.PathLike[str],
        *,
        oss_endpoint: str | None = None,
        progress: ProgressHook | None = None,
    ) -> W.WebFile:
        return await self._arun(self._web_upload(_checked(att), oss_endpoint, progress))
