"""Remote catalogs through httpx.MockTransport: no test touches the network."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from plano_obs.pricing import Pricer

NOW = 1_800_000_000.0
MODELS_DEV = {
    "openai": {"id": "openai", "models": {
        "gpt-4o-mini": {"id": "gpt-4o-mini", "cost": {"input": 0.3, "output": 1.2}}}},
    "anthropic": {"id": "anthropic", "models": {
        "claude-sonnet-4-5": {"id": "claude-sonnet-4-5", "cost": {"input": 3, "output": 15}}}},
}


def client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def make_pricer(tmp_path: Path, handler: Callable[[httpx.Request], httpx.Response],
                clock: Callable[[], float] = lambda: NOW, **kw: object) -> Pricer:
    return Pricer(cache_dir=tmp_path, http_client=client(handler), clock=clock, **kw)


def test_successful_fetch_replaces_snapshot_and_is_cached(tmp_path: Path) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=MODELS_DEV, headers={"ETag": '"v1"'})

    pricer = make_pricer(tmp_path, handler)
    assert pricer.info().source == "embedded snapshot"
    assert pricer.refresh() is True
    info = pricer.info()
    assert (info.source, info.models) == ("models.dev", 2)
    assert info.fetched_at is not None and info.fetched_at.timestamp() == NOW
    assert pricer.resolve("gpt-4o-mini").rates.input == 0.3
    assert str(requests[0].url) == "https://models.dev/api.json"
    assert "gzip" in requests[0].headers["accept-encoding"]
    assert json.loads((tmp_path / "models.dev.json").read_text()) == MODELS_DEV
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, nothing left behind

    # Within 24 h a new Pricer uses the cache without a request.
    again = make_pricer(tmp_path, handler, clock=lambda: NOW + 3600)
    assert again.refresh() is True
    assert len(requests) == 1 and again.info().models == 2


def test_stale_cache_revalidates_with_etag_and_304(tmp_path: Path) -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, json=MODELS_DEV, headers={"ETag": '"v1"'})

    make_pricer(tmp_path, handler).refresh()
    later = make_pricer(tmp_path, handler, clock=lambda: NOW + 2 * 86400)
    assert later.refresh() is True
    assert seen == [None, '"v1"']
    assert later.info().models == 2
    assert later.info().fetched_at.timestamp() == NOW + 2 * 86400


@pytest.mark.parametrize(("response", "reason"), [
    (lambda r: httpx.Response(500), "HTTP 500"),
    (lambda r: httpx.Response(200, content=b"{not json"), "invalid JSON"),
    (lambda r: httpx.Response(200, json=["a", "list"]), "wrong shape"),
    (lambda r: httpx.Response(200, json={"openai": {"models": {
        "m": {"cost": {"input": 0.0000003, "output": 0.0000012}}}}}), "absurd units"),
])
def test_failures_warn_in_one_line_and_keep_previous_prices(tmp_path: Path, response,
                                                             reason: str) -> None:
    pricer = make_pricer(tmp_path, response)
    before = pricer.resolve("gpt-4o-mini")
    assert pricer.refresh() is False
    assert pricer.info().source == "embedded snapshot"
    assert pricer.resolve("gpt-4o-mini") is before
    assert len(pricer.warnings) == 1 and reason in pricer.warnings[0]
    assert "\n" not in pricer.warnings[0]


def test_timeout_falls_back_to_stale_cache(tmp_path: Path) -> None:
    make_pricer(tmp_path, lambda r: httpx.Response(200, json=MODELS_DEV)).refresh()

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("connect timed out", request=request)

    later = make_pricer(tmp_path, timeout, clock=lambda: NOW + 3 * 86400)
    assert later.refresh() is True
    assert later.info().source == "models.dev (stale)"
    assert later.resolve("gpt-4o-mini").rates.input == 0.3
    assert "timed out" in later.warnings[0] and "3 days" in later.warnings[0]


def test_offline_reads_only_the_cache(tmp_path: Path) -> None:
    def forbidden(request: httpx.Request) -> httpx.Response:
        raise AssertionError("offline must not fetch")

    pricer = make_pricer(tmp_path, forbidden, offline=True)
    assert pricer.refresh() is False
    assert pricer.info().source == "embedded snapshot"


def test_digitalocean_catalog_is_paginated_and_per_token(tmp_path: Path) -> None:
    pages = {
        "1": {"data": [{"model_id": "openai-gpt-oss-120b",
                        "pricing": {"input_price_per_million": 1e-7,
                                    "output_price_per_million": 7e-7}}],
              "links": {"pages": {"next": "https://api.digitalocean.com/v2/gen-ai/models/"
                                          "catalog?page=2&per_page=200"}},
              "meta": {"pages": 2}},
        "2": {"data": [{"model_id": "anthropic-claude-4.5-haiku",
                        "pricing": {"input_price_per_million": 1e-6,
                                    "output_price_per_million": 5e-6,
                                    "cache_read_input_price_per_million": 1e-7}},
                       {"model_id": "free-ish", "pricing": {"input_price_per_million": 0,
                                                            "output_price_per_million": 0}}],
              "links": {}, "meta": {"pages": 2}},
    }
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page", "1")
        requested.append(page)
        return httpx.Response(200, json=pages[page])

    config = tmp_path / "plano_config.yaml"
    config.write_text("model_metrics_sources:\n  - type: cost\n    provider: digitalocean\n")
    pricer = make_pricer(tmp_path / "cache", handler, plano_config=config)
    assert pricer.refresh() is True
    assert requested == ["1", "2"]
    assert pricer.info().source == "digitalocean + embedded snapshot"
    haiku = pricer.resolve("claude-haiku-4.5", "digitalocean")
    assert (haiku.rates.input, haiku.rates.output, haiku.rates.cache_read) == (1.0, 5.0, 0.1)
    assert haiku.source == "digitalocean"
    assert pricer.resolve("free-ish", "digitalocean") is None
    # Other providers keep the snapshot's prices.
    assert pricer.resolve("gpt-4o-mini").source == "embedded snapshot"


def test_background_refresh_swaps_catalog_without_blocking(tmp_path: Path) -> None:
    import threading

    release = threading.Event()

    def slow(request: httpx.Request) -> httpx.Response:
        release.wait(5)
        return httpx.Response(200, json=MODELS_DEV)

    pricer = make_pricer(tmp_path, slow)
    thread = pricer.start_background_refresh()
    assert thread.daemon
    assert pricer.info().source == "embedded snapshot"  # serving while the fetch waits
    release.set()
    thread.join(5)
    assert pricer.info().source == "models.dev"
