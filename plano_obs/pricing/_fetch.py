"""Fetching remote catalogs: httpx, ETag, a total deadline, and an on-disk cache.

A fetch never raises: it returns a catalog or None, and one-line warnings.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from plano_obs.files import write_atomic
from plano_obs.pricing._catalog import (
    Catalog,
    CatalogError,
    do_items,
    parse_digitalocean,
    parse_models_dev,
)
from plano_obs.pricing._sources import CostSource

__all__ = ["FetchResult", "Fetcher", "default_cache_dir"]

FRESH_FOR_S = 24 * 3600
MAX_BODY_BYTES = 50 * 1024 * 1024
MAX_PAGES = 50
_USER_AGENT = "plano-obs pricing"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/plano-obs/pricing`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "plano-obs" / "pricing"


class _FetchError(Exception):
    pass


@dataclass(slots=True)
class FetchResult:
    """What a refresh produced: a catalog (or None) and warnings for the user."""

    catalog: Catalog | None
    origin: str  # "network" | "not modified" | "cache" | "stale cache" | "none"
    warnings: list[str] = field(default_factory=list)


def _age_text(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


class Fetcher:
    """Loads one remote cost source through the disk cache."""

    def __init__(self, source: CostSource, *, cache_dir: Path | None = None,
                 http_client: httpx.Client | None = None,
                 clock: Callable[[], float] = time.time,
                 connect_timeout_s: float = 2.0, total_timeout_s: float = 5.0,
                 fresh_for_s: float = FRESH_FOR_S) -> None:
        self.source = source
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self._client = http_client
        self._clock = clock
        self._connect_timeout_s = connect_timeout_s
        self._total_timeout_s = total_timeout_s
        self._fresh_for_s = fresh_for_s
        name = "digitalocean" if source.provider == "digitalocean" else "models.dev"
        self.body_path = self.cache_dir / f"{name}.json"
        self.meta_path = self.cache_dir / f"{name}.meta.json"

    # -- cache ---------------------------------------------------------------------------------

    def _read_meta(self) -> dict[str, Any]:
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(meta, dict) or meta.get("url") != self.source.url:
            return {}
        return meta

    def _cached(self, meta: dict[str, Any], label: str) -> Catalog | None:
        fetched = meta.get("fetched_at")
        if not isinstance(fetched, int | float):
            return None
        try:
            body = self.body_path.read_bytes()
            return self._parse(json.loads(body), label, fetched)
        except (OSError, ValueError, CatalogError):
            return None

    def _write_cache(self, body: bytes, etag: str | None, fetched_at: float) -> list[str]:
        meta = {"url": self.source.url, "etag": etag, "fetched_at": fetched_at}
        try:
            self.body_path.parent.mkdir(parents=True, exist_ok=True)
            self.meta_path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.body_path, body)
            write_atomic(self.meta_path, json.dumps(meta))
        except OSError as e:
            return [f"pricing cache {self.cache_dir} not written: {e.strerror or e}"]
        return []

    def _touch_cache(self, meta: dict[str, Any], fetched_at: float) -> None:
        try:
            write_atomic(self.meta_path, json.dumps({**meta, "fetched_at": fetched_at}))
        except OSError:
            pass

    # -- parsing -------------------------------------------------------------------------------

    def _parse(self, doc: Any, label: str, fetched_at: float) -> Catalog:
        when = datetime.fromtimestamp(fetched_at, UTC)
        if self.source.provider == "digitalocean":
            return parse_digitalocean(do_items(doc), label, when)
        return parse_models_dev(doc, label, when)

    # -- network -------------------------------------------------------------------------------

    def _get(self, client: httpx.Client, url: str, headers: dict[str, str],
             deadline: float) -> tuple[int, httpx.Headers, bytes]:
        """Status, headers and body of a GET that must finish before ``deadline``."""
        remaining = max(0.1, deadline - time.monotonic())
        timeout = httpx.Timeout(remaining, connect=min(self._connect_timeout_s, remaining))
        with client.stream("GET", url, headers=headers, timeout=timeout) as resp:
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _FetchError(f"response larger than {MAX_BODY_BYTES >> 20} MB")
                if time.monotonic() > deadline:
                    raise _FetchError(f"timed out after {self._total_timeout_s:g} s")
                chunks.append(chunk)
            return resp.status_code, resp.headers, b"".join(chunks)

    def _download(self, client: httpx.Client, etag: str | None) -> tuple[bytes | None, str | None]:
        """The body (None when not modified) and its ETag."""
        deadline = time.monotonic() + self._total_timeout_s
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip",
                   "User-Agent": _USER_AGENT}
        if self.source.provider != "digitalocean":
            if etag:
                headers["If-None-Match"] = etag
            status, resp_headers, body = self._get(client, self.source.url, headers, deadline)
            if status == 304:
                return None, etag
            self._check_status(status)
            return body, resp_headers.get("etag")
        # DigitalOcean pages its catalog; the pages are merged into one document for the cache.
        items: list[Any] = []
        url: str | None = self.source.url
        params: dict[str, int] | None = {"page": 1, "per_page": 200}
        for page in range(1, MAX_PAGES + 1):
            assert url is not None
            full = httpx.URL(url, params=params) if params else httpx.URL(url)
            status, _, body = self._get(client, str(full), headers, deadline)
            self._check_status(status)
            doc = self._json(body)
            try:
                page_items = do_items(doc)
            except CatalogError as e:
                raise _FetchError(str(e)) from None
            items.extend(page_items)
            next_url = _next_page(doc)
            pages = _page_count(doc)
            if next_url:
                url, params = next_url, None
            elif pages is not None and page < pages and page_items:
                params = {"page": page + 1, "per_page": 200}
            else:
                break
        return json.dumps({"data": items}).encode(), None

    @staticmethod
    def _check_status(status: int) -> None:
        if status != 200:
            raise _FetchError(f"HTTP {status}")

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError:
            raise _FetchError("invalid JSON") from None

    def load(self, *, force: bool = False, offline: bool = False) -> FetchResult:
        """The freshest usable catalog: fresh cache, then network, then stale cache."""
        now = self._clock()
        meta = self._read_meta()
        label = self.source.provider
        fetched_at = meta.get("fetched_at")
        fresh = isinstance(fetched_at, int | float) and 0 <= now - fetched_at < self._fresh_for_s
        if (fresh and not force) or offline:
            cached = self._cached(meta, label)
            if cached is not None:
                return FetchResult(cached, "cache")
            if offline:
                return FetchResult(None, "none")
        try:
            catalog, origin, warnings = self._fetch(meta, label, now)
            return FetchResult(catalog, origin, warnings)
        except (_FetchError, CatalogError, httpx.HTTPError, OSError) as e:
            reason = _describe(e)
            stale = self._cached(meta, label)
            if stale is not None and isinstance(fetched_at, int | float):
                age = _age_text(max(0.0, now - fetched_at))
                return FetchResult(stale, "stale cache", [
                    f"pricing: {label} refresh failed ({reason}); using cached prices "
                    f"from {age} ago"])
            return FetchResult(None, "none", [
                f"pricing: {label} refresh failed ({reason}); keeping current prices"])

    def _fetch(self, meta: dict[str, Any], label: str, now: float
               ) -> tuple[Catalog, str, list[str]]:
        etag = meta.get("etag") if self.body_path.exists() else None
        client = self._client or httpx.Client(follow_redirects=True)
        try:
            body, new_etag = self._download(client, etag if isinstance(etag, str) else None)
        finally:
            if self._client is None:
                client.close()
        if body is None:
            cached = self._cached(meta, label)
            if cached is None:
                raise _FetchError("304 Not Modified but the cached copy is unreadable")
            self._touch_cache(meta, now)
            return _with_time(cached, now), "not modified", []
        catalog = self._parse(self._json(body), label, now)
        return catalog, "network", self._write_cache(body, new_etag, now)


def _with_time(catalog: Catalog, fetched_at: float) -> Catalog:
    return Catalog(catalog.entries, catalog.source, datetime.fromtimestamp(fetched_at, UTC),
                   catalog.dropped, catalog.providers)


def _next_page(doc: Any) -> str | None:
    links = doc.get("links") if isinstance(doc, dict) else None
    pages = links.get("pages") if isinstance(links, dict) else None
    nxt = pages.get("next") if isinstance(pages, dict) else None
    return nxt if isinstance(nxt, str) and nxt.startswith(("http://", "https://")) else None


def _page_count(doc: Any) -> int | None:
    meta = doc.get("meta") if isinstance(doc, dict) else None
    pages = meta.get("pages") if isinstance(meta, dict) else None
    return pages if isinstance(pages, int) and not isinstance(pages, bool) else None


def _describe(e: BaseException) -> str:
    if isinstance(e, httpx.TimeoutException):
        return "timed out"
    if isinstance(e, httpx.HTTPError):
        return f"{type(e).__name__}: {e}".splitlines()[0][:200]
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__
