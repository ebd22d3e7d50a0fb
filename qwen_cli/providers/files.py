"""DashScope's file endpoints, built once for the sync and async senders; no I/O here.

Wire facts: ../shared/protocol/dashscope.md section e.

* Files API (compatible mode): ``POST {base}/files`` (multipart ``file`` + ``purpose``),
  ``GET {base}/files``, ``DELETE {base}/files/{id}``.
* Temporary upload (native API): ``GET {native}/uploads?action=getPolicy&model=M`` with the
  key, then a multipart form ``POST`` to the policy's ``upload_host`` (no key), then the image
  is ``oss://<upload_dir>/<name>``. The native root is the compatible base URL with
  ``/compatible-mode/v1`` replaced by ``/api/v1``; other base URLs have none.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO

from qwen_cli.errors import ORIGIN_FILE, ORIGIN_OBJECT_STORAGE, APIStatusError, NotFoundError
from qwen_cli.providers.base import RequestSpec
from qwen_cli.types import FileObject, UploadPolicy

COMPAT_SUFFIX = "/compatible-mode/v1"
NATIVE_SUFFIX = "/api/v1"
PURPOSE = "file-extract"

Content = bytes | BinaryIO


def native_url(base_url: str) -> str | None:
    """``https://host/api/v1`` for ``https://host/compatible-mode/v1``; ``None`` for other servers."""
    base = base_url.rstrip("/")
    if base.endswith(COMPAT_SUFFIX):
        return base[: -len(COMPAT_SUFFIX)] + NATIVE_SUFFIX
    return None


def _headers(api_key: str | None) -> dict[str, str]:
    from qwen_cli.providers.dashscope import USER_AGENT

    h = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if api_key:
        h["Authorization"] = f"Bearer {api_key}"
    return h


# --------------------------------------------------------------------------- Files API


def upload_request(
    base_url: str, api_key: str | None, filename: str, content: Content, mime: str, purpose: str = PURPOSE
) -> RequestSpec:
    return RequestSpec(
        "POST",
        f"{base_url.rstrip('/')}/files",
        headers=_headers(api_key),
        data={"purpose": purpose},
        files={"file": (filename, content, mime)},
    )


def list_request(base_url: str, api_key: str | None, after: str | None = None) -> RequestSpec:
    return RequestSpec(
        "GET",
        f"{base_url.rstrip('/')}/files",
        headers=_headers(api_key),
        params={"after": after} if after else None,
    )


def delete_request(base_url: str, api_key: str | None, file_id: str) -> RequestSpec:
    return RequestSpec("DELETE", f"{base_url.rstrip('/')}/files/{file_id}", headers=_headers(api_key))


def parse_file(body: Any) -> FileObject:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
        raise APIStatusError("the Files API answered without a file id", body=body)
    return FileObject.model_validate(body)


def parse_list(body: Any) -> tuple[list[FileObject], bool]:
    """The files on one page, and whether the server says there are more."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise APIStatusError("the Files API answered without a list of files", body=body)
    files = [FileObject.model_validate(d) for d in data if isinstance(d, dict) and d.get("id")]
    return files, bool(body.get("has_more")) and bool(files)


def check_deleted(body: Any, file_id: str) -> None:
    if isinstance(body, dict) and body.get("deleted") is False:
        raise APIStatusError(f"the server did not delete {file_id}", body=body)


def about_file(err: NotFoundError) -> NotFoundError:
    """The 404 of a request about one uploaded file (its hint is chosen in ``cli/hints.py``)."""
    return err.evolve(origin=ORIGIN_FILE)


# --------------------------------------------------------------------------- temporary upload


def policy_request(native: str, api_key: str | None, model: str) -> RequestSpec:
    return RequestSpec(
        "GET",
        f"{native.rstrip('/')}/uploads",
        headers=_headers(api_key),
        params={"action": "getPolicy", "model": model},
    )


def parse_policy(body: Any) -> UploadPolicy:
    data = body.get("data") if isinstance(body, dict) else None
    needed = ("policy", "signature", "upload_dir", "upload_host", "oss_access_key_id")
    missing = [k for k in needed if not isinstance(data, dict) or not data.get(k)]
    if missing or not isinstance(data, dict):
        raise APIStatusError(
            f"the temporary-upload policy is incomplete (no {', '.join(missing)})",
            body=body,
            request_id=body.get("request_id") if isinstance(body, dict) else None,
        )
    return UploadPolicy.model_validate(data)


def safe_name(name: str) -> str:
    """A file name fit for an object key: ASCII letters, digits, ``.``, ``_`` and ``-`` only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"
    return cleaned[-120:]


def object_key(policy: UploadPolicy, filename: str) -> str:
    return f"{policy.upload_dir.rstrip('/')}/{safe_name(filename)}"


def oss_form_request(
    policy: UploadPolicy, key: str, filename: str, content: Content, mime: str
) -> RequestSpec:
    """The storage form: fields in the order the SDK sends them, the file last (OSS wants it so)."""
    return RequestSpec(
        "POST",
        policy.upload_host,
        headers={"Accept": "application/json"},
        data={
            "OSSAccessKeyId": policy.oss_access_key_id,
            "Signature": policy.signature,
            "policy": policy.policy,
            "key": key,
            "x-oss-object-acl": policy.x_oss_object_acl,
            "x-oss-forbid-overwrite": policy.x_oss_forbid_overwrite,
            "success_action_status": "200",
            "x-oss-content-type": mime,
        },
        files={"file": (safe_name(filename), content, mime)},
    )


_XML_FIELD = re.compile(r"<(Code|Message)>([^<]*)</\1>")


def oss_error(err: APIStatusError, shown: str) -> APIStatusError:
    """The storage host's XML error as one readable line (exit code 1, not an auth error)."""
    raw = err.body
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else str(raw or "")
    fields = dict(_XML_FIELD.findall(text))
    detail = ": ".join(v for v in (fields.get("Code"), fields.get("Message")) if v) or err.message
    return APIStatusError(
        f"the temporary upload of {shown} failed (HTTP {err.status_code}): {detail}",
        status_code=err.status_code,
        code=fields.get("Code") or err.code,
        body=err.body,
        request_id=err.request_id,
        origin=ORIGIN_OBJECT_STORAGE,
    )
