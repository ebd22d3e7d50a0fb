"""chat.qwen.ai's file upload, built for the sync and async senders; no I/O here.

``qwen_cli.uploads.Files.web_upload`` runs it (``client.files.web_upload("cat.png")``). The
steps of the library's ``upload_file`` (../shared/protocol/qwen-web.md, section 4):

1. ``POST {base}/api/v1/files/getstsToken`` with the chat headers and
   ``{"filename", "filesize": int, "filetype": <MIME major type>}``;
2. the answer (flat, or v2's ``{"success": true, "data": {...}}``) names temporary
   credentials, a bucket, a region, the object's key (``file_path``) and its ``file_url``;
3. ``PUT`` the bytes to object storage, signed with OSS signature v1 (``providers.oss``),
   at ``QWEN_WEB_OSS_ENDPOINT`` when set, else ``https://{bucket}.{region}.aliyuncs.com``;
4. ``file_url`` goes into the chat as ``{"type": "image", "image": file_url}``.

Requests go through the client's senders, so retries, timeouts, ``--debug`` logging (secrets
masked) and error mapping are the same as for chat. Nothing is sent anywhere but the base URL
and the object-storage endpoint. The file is streamed from disk, never read whole.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import urlsplit

from qwen_cli.errors import APIStatusError, ConfigError, UsageError
from qwen_cli.providers import oss
from qwen_cli.providers.base import RequestSpec
from qwen_cli.providers.qwen_web import QwenWeb, raise_for_payload
from qwen_cli.providers.qwen_web_errors import is_html, is_waf, page_error, waf_error
from qwen_cli.redact import register_secret
from qwen_cli.structs import struct
from qwen_cli.types import ImagePart, ImageURL

STS_PATH = "/api/v1/files/getstsToken"
_REQUIRED = (
    "access_key_id",
    "access_key_secret",
    "security_token",
    "bucketname",
    "region",
    "file_path",
    "file_url",
)


@struct(frozen=True)
class StsGrant:
    """Temporary credentials for one object, as the STS call answered."""

    access_key_id: str
    access_key_secret: str
    security_token: str
    bucket: str
    region: str
    file_path: str
    file_url: str
    file_id: str


@struct(frozen=True)
class WebFile:
    """An uploaded file: what the chat request refers to."""

    file_url: str
    file_id: str
    filename: str
    mime: str
    size: int

    def image_part(self) -> ImagePart:
        """The content part for a ``Message``; the provider sends it as ``{"type": "image"}``.

        Only images: the protocol has no block that carries a document (the library sends
        ``{"type": "document"}`` with no data at all).
        """
        if not self.mime.startswith("image/"):
            raise UsageError(
                f"chat.qwen.ai can be asked about images only; {self.filename} is {self.mime}",
                hint="use --provider dashscope for documents",
            )
        return ImagePart(image_url=ImageURL(url=self.file_url))


def guess_mime(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def sts_request(provider: QwenWeb, filename: str, size: int, mime: str) -> RequestSpec:
    body = {"filename": filename, "filesize": int(size), "filetype": mime.split("/")[0] or "image"}
    return RequestSpec("POST", provider.base_url + STS_PATH, headers=provider.headers(), json=body)


def parse_sts(body: Any) -> StsGrant:
    """The STS answer, flat (v1) or wrapped (v2); an error envelope or page raises."""
    if isinstance(body, str):
        if is_waf(body):
            raise waf_error(200, body[:2000])
        if is_html(body):
            raise page_error(200, body)
        raise APIStatusError(f"the upload token answer is not JSON: {body.strip()[:120]!r}", body=body)
    if not isinstance(body, dict):
        raise APIStatusError("the upload token answer is not a JSON object", body=body)
    raise_for_payload(body)
    wrapped = body.get("data")
    data: dict[str, Any] = wrapped if body.get("success") is True and isinstance(wrapped, dict) else body
    missing = [k for k in _REQUIRED if not isinstance(data.get(k), str) or not data.get(k)]
    if missing:
        raise APIStatusError(
            f"the upload token answer lacks {', '.join(missing)}",
            code="bad_sts_answer",
            body={k: v for k, v in data.items() if k not in ("access_key_secret", "security_token")},
        )
    register_secret(data["access_key_secret"])
    register_secret(data["security_token"])
    for name in ("bucketname", "region"):
        if not oss.valid_name(data[name]):
            raise APIStatusError(f"the upload token answer names an invalid {name}: {data[name]!r}")
    return StsGrant(
        access_key_id=data["access_key_id"],
        access_key_secret=data["access_key_secret"],
        security_token=data["security_token"],
        bucket=data["bucketname"],
        region=data["region"],
        file_path=data["file_path"],
        file_url=data["file_url"],
        file_id=str(data.get("file_id") or ""),
    )


def put_request(
    grant: StsGrant,
    data: bytes | Iterable[bytes],
    mime: str,
    *,
    endpoint: str | None = None,
    date: str | None = None,
    md5: str | None = None,
    size: int | None = None,
) -> RequestSpec:
    """The signed ``PUT`` of ``data`` to object storage (headers as oss2 sent them, plus Content-MD5).

    ``data`` is the bytes, or pieces of them streamed from disk: then ``md5`` (``oss.content_md5``
    of the whole) and ``size`` are given, and sent as Content-MD5 and Content-Length.
    """
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"the object-storage endpoint {endpoint!r} is not an http(s) URL",
                hint="fix QWEN_WEB_OSS_ENDPOINT or oss_endpoint in the config file",
            )
    base = endpoint or oss.default_endpoint(grant.region)
    if isinstance(data, bytes):
        md5, size = oss.content_md5(data), len(data)
    elif md5 is None or size is None:
        raise ValueError("a streamed body needs its md5 and size")
    headers = {
        "Content-Type": mime,
        "Content-MD5": md5,
        "Date": date or oss.http_date(),
        "x-oss-security-token": grant.security_token,
        "x-oss-content-sha256": "UNSIGNED-PAYLOAD",
    }
    resource = f"/{grant.bucket}/{grant.file_path}"
    headers["Authorization"] = oss.authorization(
        grant.access_key_id, grant.access_key_secret, "PUT", headers, resource
    )
    headers["Content-Length"] = str(size)  # not signed; without it a streamed body goes chunked
    url = oss.object_url(base, grant.bucket, grant.file_path)
    return RequestSpec("PUT", url, headers=headers, content=data)


def check_provider(provider: Any) -> QwenWeb:
    """The client's provider, if it uploads chat.qwen.ai's way; else a ``UsageError``."""
    if not provider.capabilities.web_image_upload:
        raise UsageError(
            f"this upload is chat.qwen.ai's; the client speaks {provider.name}",
            hint="use --provider qwen-web",
        )
    return cast(QwenWeb, provider)
