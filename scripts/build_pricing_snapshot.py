#!/usr/bin/env python3
"""Build plano obs's embedded pricing snapshot from a models.dev ``api.json``.

    python scripts/build_pricing_snapshot.py      # reads ../shared/data/models.dev-api.json
    python scripts/build_pricing_snapshot.py https://models.dev/api.json
    python scripts/build_pricing_snapshot.py path/to/api.json --output /tmp/snapshot.json.gz

Keeps only provider, model id and cost fields, gzip-compressed, in plano_obs/pricing/.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from plano_obs.pricing._catalog import CatalogError, parse_models_dev  # noqa: E402
from plano_obs.pricing._snapshot import SNAPSHOT_FILE, build_snapshot  # noqa: E402

DEFAULT_INPUT = REPO.parent / "shared" / "data" / "models.dev-api.json"
DEFAULT_OUTPUT = REPO / "plano_obs" / "pricing" / SNAPSHOT_FILE


def _read(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        resp = httpx.get(source, timeout=httpx.Timeout(30.0, connect=5.0),
                         follow_redirects=True)
        resp.raise_for_status()
        return resp.content
    return Path(source).expanduser().read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", default=str(DEFAULT_INPUT),
                        help="models.dev api.json: a path or an http(s) URL")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="where to write the gzip-compressed snapshot")
    args = parser.parse_args(argv)
    try:
        doc = json.loads(_read(args.source))
        data = build_snapshot(doc, origin=Path(args.source).name if "://" not in args.source
                              else args.source, built_at=datetime.now(UTC).replace(microsecond=0))
    except (OSError, ValueError, CatalogError, httpx.HTTPError) as e:
        print(f"build_pricing_snapshot: {args.source}: {e}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    catalog = parse_models_dev(json.loads(gzip.decompress(data))["providers"])
    print(f"wrote {args.output} ({len(data) / 1024:.0f} KiB): {len(catalog)} priced models "
          f"from {len(catalog.providers)} providers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
