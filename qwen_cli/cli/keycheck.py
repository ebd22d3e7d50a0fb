"""Checking a key with a real request (``GET /models``), and finding the region it belongs to.

DashScope keys are bound to a region: a Singapore key gets 401 "invalid key" in
Beijing. Before calling a key invalid, try it once in each other region. Whether a
base URL stands for a region is config's answer (``Settings.dashscope_region``).
`qwen auth` and `qwen complete` both diagnose a refused key here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qwen_cli.errors import AuthenticationError, PermissionDeniedError, QwenAPIError
from qwen_cli.structs import field, struct

if TYPE_CHECKING:
    from qwen_cli.config import Settings


@struct
class Target:
    """Where to try a key: provider, region and base URL."""

    provider: str
    region: str
    base_url: str
    region_bound: bool  # the base URL is this region's (so other regions are worth a try)


def target_for(s: Settings) -> Target:
    """The target of resolved settings; region-bound when the base URL stands for a region."""
    region = s.dashscope_region
    return Target(s.provider, region or s.region, s.base_url, region is not None)


def region_urls() -> dict[str, str]:
    """Each region's base URL that a key may be tried at: never one a ``.env`` file chose.

    A ``QWEN_BASE_URL_<REGION>`` from a ``.env`` may point anywhere (keypolicy), and
    trying a key there would hand it over; DashScope's own https hosts are fine.
    """
    import os
    from urllib.parse import urlsplit

    from qwen_cli import config, keypolicy
    from qwen_cli.providers.dashscope import is_own_host

    out = {}
    for region, (url, source) in config.base_urls().items():
        parts = urlsplit(url)
        own = parts.scheme == "https" and is_own_host(parts.hostname or "")
        if own or keypolicy.origin(source, os.environ) != keypolicy.DOTENV:
            out[region] = url
    return out


def region_url(region: str, *, checking: bool = True) -> str:
    """The base URL to check a new key at in ``region``; a ConfigError when a ``.env`` chose it."""
    from pathlib import Path

    from qwen_cli import config
    from qwen_cli.errors import ConfigError

    url = region_urls().get(region)
    if url is None and not checking:
        return config.base_urls()[region][0]
    if url is None:
        raise ConfigError(
            f"{Path.cwd() / '.env'} sets QWEN_BASE_URL_{region.upper()}: your key would be sent there "
            "to be checked; not sent",
            hint="run `qwen auth login` in another directory, or pass --base-url yourself",
        )
    return url


def list_models(
    key: str, t: Target, s: Settings, *, cookie: str | None = None, retries: int | None = None
) -> list[str]:
    """The model ids ``GET /models`` returns with ``key``; raises the mapped error."""
    from qwen_cli.client import Qwen

    with Qwen(
        key,
        base_url=t.base_url,
        region=t.region,
        provider=t.provider,
        cookie=cookie,
        timeout=s.timeout,
        connect_timeout=s.connect_timeout,
        max_retries=s.max_retries if retries is None else retries,
        key_required=True,  # a key check without a key would only be refused
    ) as client:
        return [m.id for m in client.models.list()]


def can_verify(provider: str) -> bool:
    """Whether the provider can check a key without asking the model anything."""
    from qwen_cli.providers import provider_class

    return provider_class(provider).capabilities.model_list == "server"


NO_CHECK = "chat.qwen.ai has no endpoint that checks a token without asking a question"


def is_refused(err: QwenAPIError) -> bool:
    """A 401 "invalid key" (not a 403: that key is known, the account has a problem)."""
    return isinstance(err, AuthenticationError) and not isinstance(err, PermissionDeniedError)


@struct
class Elsewhere:
    """What trying a key in the other regions found."""

    region: str | None = None  # where it works
    base_url: str = ""
    models: list[str] | None = None
    refused: list[str] = field(default_factory=list)  # regions that answered 401 (or 403)
    unreachable: list[str] = field(default_factory=list)  # regions that could not say


def find_region(key: str, refused_in: str, s: Settings) -> Elsewhere:
    """Try ``key`` once in every region but ``refused_in`` (and those a .env chose), until one takes it."""
    out = Elsewhere(refused=[refused_in])
    for region, url in region_urls().items():
        if region == refused_in:
            continue
        try:
            models = list_models(key, Target(s.provider, region, url, True), s, retries=0)
        except AuthenticationError:
            out.refused.append(region)
            continue
        except QwenAPIError:
            out.unreachable.append(region)
            continue
        out.region, out.base_url, out.models = region, url, models
        break
    return out


def _titles(provider: str) -> dict[str, str]:
    from qwen_cli.providers import provider_class

    return {r: v.title for r, v in provider_class(provider).regions.items()}


def wrong_region_error(found: Elsewhere, region: str, provider: str) -> AuthenticationError:
    names = _titles(provider)
    assert found.region is not None
    return AuthenticationError(
        f"this key belongs to region {found.region} ({names[found.region]}), not {region} ({names[region]})",
        code="wrong_region",
        hint=(
            f"switch with --region {found.region} (or QWEN_REGION={found.region}), "
            f"or store it for that region: qwen auth login --region {found.region}"
        ),
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def refused_error(err: QwenAPIError, found: Elsewhere | None, provider: str) -> AuthenticationError:
    """The key was refused where we asked, and no other region took it."""
    if found is None:
        where = "by the server"
    else:
        order = list(_titles(provider))
        refused = [r for r in order if r in found.refused]
        unreachable = [r for r in order if r in found.unreachable]
        if not unreachable:
            where = f"in every region ({', '.join(refused)})"
        else:
            where = f"in {_and(refused)} ({_and(unreachable)} could not be reached to try it)"
    return AuthenticationError(
        f"the key was refused {where}: {err.message}",
        status_code=err.status_code,
        code=err.code,
        request_id=err.request_id,
        hint="create or copy a key in the Model Studio console, then run `qwen auth login`",
    )


def diagnose(
    err: QwenAPIError, key: str | None, t: Target, s: Settings
) -> tuple[QwenAPIError, Elsewhere | None]:
    """``err`` as the user should see it: a refused key that works in another region is
    "this key belongs to region R". Also what trying the other regions found (``None`` when
    they were not tried: the error is not a refusal, or the base URL is not a region's)."""
    if not (key and is_refused(err) and t.region_bound):
        return err, None
    found = find_region(key, t.region, s)
    if found.region is None:
        return err, found
    return wrong_region_error(found, t.region, s.provider), found
