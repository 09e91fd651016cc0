"""The CPU benchmark's baseline: the least work that yields the same Singer records.

    python benchmarks/baseline.py --api-url http://127.0.0.1:PORT --page-size 1000

The listing pages the tap fetches (``orderBy=UpdatedOn&dir=1``) through one ``requests``
session, each record written as a RECORD line with ``json.dumps``. No pacing, schema,
state or checks: what is left is the HTTP and JSON work any extractor pays.
"""

from __future__ import annotations

import argparse
import json
import sys

import requests


def main() -> int:
    """Fetch every page, print every record."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    session = requests.Session()
    session.headers.update({"Authorization": "Bearer sandbox-token", "Accept": "application/json"})
    url = args.api_url.rstrip("/") + "/api/sys/businessbackgroundjobs"
    page = 1
    while True:
        query = {"page": page, "size": args.page_size, "orderBy": "UpdatedOn", "dir": 1}
        response = session.get(url, params=query, timeout=60)
        response.raise_for_status()
        envelope = response.json()
        for record in envelope["Records"]:
            line = {"type": "RECORD", "stream": "business_background_jobs", "record": record}
            sys.stdout.write(json.dumps(line) + "\n")
        if not envelope.get("HasNextPage") or not envelope["Records"]:
            return 0
        page += 1


if __name__ == "__main__":
    raise SystemExit(main())
