"""The OSS v1 signer against the published examples, and the URLs it signs for."""

from __future__ import annotations

import pytest

from qwen_cli.providers import oss
from tests.fake_qwenweb import oss_string_to_sign

# The example of Alibaba Cloud's "Include a V1 signature in the Authorization header"
# (https://www.alibabacloud.com/help/doc-detail/31951.htm, "Signature calculation example"):
#
#   PUT /nelson HTTP/1.0
#   Content-Md5: ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=
#   Content-Type: text/html
#   Date: Thu, 17 Nov 2005 18:49:58 GMT
#   Host: oss-example.oss-cn-hangzhou.aliyuncs.com
#   X-OSS-Meta-Author: foo@bar.com
#   X-OSS-Magic: abracadabra
#
#   AccessKeyId 44CF9590006BF252F707, AccessKeySecret OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV
#   "The signature calculation result is 26NBxoKdsyly4EDv6inkoDft/yA=", so
#   Authorization: OSS 44CF9590006BF252F707:26NBxoKdsyly4EDv6inkoDft/yA=
#
# (The same vector is asserted by libcloud's OSS driver tests and the Go and Ruby OSS clients.)
DOC_ID = "44CF9590006BF252F707"
DOC_SECRET = "OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV"  # published documentation example, not a credential
DOC_HEADERS = {
    "Content-Md5": "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=",
    "Content-Type": "text/html",
    "Date": "Thu, 17 Nov 2005 18:49:58 GMT",
    "Host": "oss-example.oss-cn-hangzhou.aliyuncs.com",
    "X-OSS-Meta-Author": "foo@bar.com",
    "X-OSS-Magic": "abracadabra",
}
DOC_STRING_TO_SIGN = (
    "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\n"
    "x-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson"
)


def test_published_header_signature_example() -> None:
    h = {k.lower(): v for k, v in DOC_HEADERS.items()}
    sts = oss.string_to_sign(
        "PUT", h["content-md5"], h["content-type"], h["date"], DOC_HEADERS, "/oss-example/nelson"
    )
    assert sts == DOC_STRING_TO_SIGN
    assert oss.signature(DOC_SECRET, sts) == "26NBxoKdsyly4EDv6inkoDft/yA="
    auth = oss.authorization(DOC_ID, DOC_SECRET, "put", DOC_HEADERS, "/oss-example/nelson")
    assert auth == "OSS 44CF9590006BF252F707:26NBxoKdsyly4EDv6inkoDft/yA="


def test_published_url_signature_example() -> None:
    # The same page's query-string example: GET /oss-example/oss-api.pdf, Expires 1141889120,
    # "Signature=EwaNTn1erJGkimiJ9WmXgwnANLc%3D": the Date line carries Expires, no headers.
    sts = oss.string_to_sign("GET", "", "", "1141889120", {}, "/oss-example/oss-api.pdf")
    assert sts == "GET\n\n\n1141889120\n/oss-example/oss-api.pdf"
    assert oss.signature(DOC_SECRET, sts) == "EwaNTn1erJGkimiJ9WmXgwnANLc="


def test_canonical_headers_rules() -> None:
    headers = {"X-OSS-B": " two  words ", "x-oss-a": "1", "Content-Type": "x", "x-amz-c": "no"}
    assert oss.canonical_oss_headers(headers) == "x-oss-a:1\nx-oss-b:two words\n"


def test_the_fake_servers_verifier_agrees() -> None:
    # tests/fake_qwenweb.py verifies uploads with its own implementation: both must agree.
    lower = {k.lower(): v for k, v in DOC_HEADERS.items()}
    assert oss_string_to_sign("PUT", lower, "/oss-example/nelson") == DOC_STRING_TO_SIGN


def test_content_md5_and_date() -> None:
    assert oss.content_md5(b"") == "1B2M2Y8AsgTpgAmY7PhCfg=="
    assert oss.http_date().endswith(" GMT")


@pytest.mark.parametrize(
    "endpoint, url",
    [
        (
            "https://oss-ap-southeast-1.aliyuncs.com",
            "https://b-1.oss-ap-southeast-1.aliyuncs.com/u/f%20x.png",
        ),
        ("http://127.0.0.1:8080/oss", "http://127.0.0.1:8080/oss/b-1/u/f%20x.png"),
        ("http://localhost:9/", "http://localhost:9/b-1/u/f%20x.png"),
        ("http://[::1]:9", "http://[::1]:9/b-1/u/f%20x.png"),
    ],
)
def test_object_url(endpoint: str, url: str) -> None:
    assert oss.object_url(endpoint, "b-1", "u/f x.png") == url


def test_names_that_could_leave_the_endpoint_are_refused() -> None:
    assert oss.valid_name("qwen-webui-prod") and oss.valid_name("oss-ap-southeast-1")
    for bad in ("evil.com/x", "a", "UPPER", "x@y", "", "a" * 70):
        assert not oss.valid_name(bad)
