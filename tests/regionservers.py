"""Three local fake DashScope servers standing in for the regions, each accepting one key.

``with region_servers(monkeypatch) as regions:`` points ``QWEN_BASE_URL_CN/INTL/US`` at the
servers, so a key "belongs" to exactly one region, as real DashScope keys do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakeserver import FakeServer

# Not real keys: obviously fake, one per region.
KEYS = {
    "cn": "sk-test-cn-key-0000-aaaa-1111",
    "intl": "sk-test-intl-key-2222-bbbb-3333",
    "us": "sk-test-us-key-4444-cccc-5555",
}


@dataclass
class Regions:
    servers: dict[str, FakeServer]

    def requests(self, region: str) -> list[dict[str, Any]]:
        return list(self.servers[region].requests)

    def count(self) -> dict[str, int]:
        return {r: len(s.requests) for r, s in self.servers.items()}


@contextlib.contextmanager
def region_servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Regions]:
    with (
        FakeServer(api_key=KEYS["cn"]) as cn,
        FakeServer(api_key=KEYS["intl"]) as intl,
        FakeServer(api_key=KEYS["us"]) as us,
    ):
        servers = {"cn": cn, "intl": intl, "us": us}
        for region, srv in servers.items():
            monkeypatch.setenv(f"QWEN_BASE_URL_{region.upper()}", srv.base_url)
        yield Regions(servers)
        for srv in servers.values():
            assert srv.errors == []
