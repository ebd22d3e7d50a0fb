"""Each default lives once: the model a request names when none is given is the provider's."""

from __future__ import annotations

from qwen_cli.client import Qwen
from qwen_cli.providers import provider_class


def test_a_request_without_a_model_names_its_providers_default() -> None:
    for name in ("dashscope", "qwen-web"):
        with Qwen("sk-defaults-test-0000", provider=name, cookie="c=1") as client:
            req = client.chat.request([{"role": "user", "content": "hi"}])
            assert req.model == provider_class(name).default_model
    assert provider_class("qwen-web").default_model != provider_class("dashscope").default_model
