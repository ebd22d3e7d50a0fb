"""Alibaba Cloud OSS signature version 1, the one the `qwen-api` library's oss2 client used.

Pure functions, no I/O. The algorithm, from "Include a V1 signature in the Authorization
header" (https://www.alibabacloud.com/help/en/oss/developer-reference/include-signatures-in-the-authorization-header)::

    Authorization = "OSS " + AccessKeyId + ":" + Signature
    Signature = base64(hmac-sha1(AccessKeySecret,
                VERB + "\\n" + Content-MD5 + "\\n" + Content-Type + "\\n" + Date + "\\n"
                + CanonicalizedOSSHeaders + CanonicalizedResource))

CanonicalizedOSSHeaders: every ``x-oss-*`` header, name lower-cased, sorted, as
``name:value\\n``. CanonicalizedResource: ``/<bucket>/<key>`` (the key not URL-encoded).

Why our own ~80 lines and not ``oss2``: the upload needs one signed PUT; oss2 pulls in
requests, crcmod, pycryptodome and two aliyun SDK packages, and its import costs more than the
rest of ``qwen``. The signer is tested against the documentation's published examples.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping
from email.utils import formatdate
from urllib.parse import quote, urlsplit

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def canonical_oss_headers(headers: Mapping[str, str]) -> str:
    pairs = sorted((k.lower().strip(), " ".join(v.split())) for k, v in headers.items())
    return "".join(f"{k}:{v}\n" for k, v in pairs if k.startswith("x-oss-"))


def string_to_sign(
    verb: str,
    content_md5: str,
    content_type: str,
    date: str,
    headers: Mapping[str, str],
    resource: str,
) -> str:
    return f"{verb}\n{content_md5}\n{content_type}\n{date}\n{canonical_oss_headers(headers)}{resource}"


def signature(secret: str, to_sign: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def authorization(
    access_key_id: str, secret: str, verb: str, headers: Mapping[str, str], resource: str
) -> str:
    """The ``Authorization`` value for a request carrying ``headers`` (Content-MD5/-Type, Date)."""
    h = {k.lower(): v for k, v in headers.items()}
    to_sign = string_to_sign(
        verb.upper(), h.get("content-md5", ""), h.get("content-type", ""), h.get("date", ""), h, resource
    )
    return f"OSS {access_key_id}:{signature(secret, to_sign)}"


def content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def http_date() -> str:
    return formatdate(usegmt=True)  # "Thu, 17 Nov 2005 18:49:58 GMT"


def valid_name(name: str) -> bool:
    """A bucket or region name that can only make a host name under the endpoint."""
    return bool(_NAME.match(name))


def default_endpoint(region: str) -> str:
    """The endpoint the library hard-codes: ``https://{region}.aliyuncs.com``."""
    return f"https://{region}.aliyuncs.com"


def _is_ip_or_localhost(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def object_url(endpoint: str, bucket: str, key: str) -> str:
    """Where to PUT ``key``: ``https://{bucket}.{endpoint host}/{key}``, the way oss2 does it.

    An IP address or localhost endpoint (a test server) gets path style instead:
    ``{endpoint}/{bucket}/{key}``, any path of the endpoint kept.
    """
    parts = urlsplit(endpoint.rstrip("/"))
    path = quote(key, safe="/~")
    if _is_ip_or_localhost(parts.hostname or ""):
        return f"{parts.scheme}://{parts.netloc}{parts.path}/{bucket}/{path}"
    return f"{parts.scheme}://{bucket}.{parts.netloc}{parts.path}/{path}"
