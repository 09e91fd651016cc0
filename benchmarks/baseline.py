"""Baseline for the CPU benchmark: the least work that yields the same Singer records.

Fetches the listing pages the tap fetches (same page size, ``orderBy=UpdatedOn&dir=1``)
with one ``requests`` session, and writes each record as a Singer RECORD line
(``json.dumps``) to stdout. No pacing, no schema, no state, no checks: what is left is
the cost of HTTP, JSON parsing and JSON writing that any extractor pays.

    python benchmarks/baseline.py --api-url http://127.0.0.1:PORT --page-size 1000
"""

from __future__ import annotations

import argparse
import json
import sys

import requests

STREAM = "business_background_jobs"
LISTING_PATH = "/api/sys/businessbackgroundjobs"


def main() -> int:
    """Fetch every page, print every record."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--access-token", default="sandbox-token")
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()

    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {args.access_token}", "Accept": "application/json"}
    )
    url = args.api_url.rstrip("/") + LISTING_PATH
    write = sys.stdout.write
    page = 1
    while True:
        response = session.get(
            url,
            params={"page": page, "size": args.page_size, "orderBy": "UpdatedOn", "dir": 1},
            timeout=60,
        )
        response.raise_for_status()
        envelope = response.json()
        for record in envelope["Records"]:
            write(json.dumps({"type": "RECORD", "stream": STREAM, "record": record}) + "\n")
        if not envelope.get("HasNextPage") or not envelope["Records"]:
            break
        page += 1
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
