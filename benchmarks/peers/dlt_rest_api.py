"""dlt's REST API source on the sandbox, as a dlt user would run it (runs in the dlt venv).

    benchmarks/.venvs/dlt/bin/python benchmarks/peers/dlt_rest_api.py \
        --config benchmarks/peers/dlt_rest_api.json --api-url URL --pipelines-dir DIR

The source is built from the JSON config (``rest_api_source``); the pipeline keeps its
incremental state in ``--pipelines-dir``, so a second run with the same directory is
incremental. ``--mode extract`` stops after dlt's extract step (records written to dlt's
local storage); ``--mode run`` also normalizes and loads into DuckDB.

``--emit records`` prints each record the resource yields *after* dlt's incremental
filter as a Singer-style RECORD line on stdout, so the harness can check for lost
records; ``--emit none`` prints only a final ``{"type": "SUMMARY", "records": n}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import dlt  # type: ignore[import-not-found]
from dlt.extract.items_transform import MapItem  # type: ignore[import-not-found]
from dlt.sources.rest_api import rest_api_source  # type: ignore[import-not-found]

STREAM = "business_background_jobs"


class AfterIncremental(MapItem):  # type: ignore[misc]
    """A map step placed after the incremental filter (dlt orders steps by affinity)."""

    placement_affinity = 1.5


def load_config(path: Path, api_url: str, token: str, page_size: int) -> dict[str, Any]:
    """The JSON config with its placeholders filled in."""
    text = path.read_text(encoding="utf-8")
    text = text.replace('"__PAGE_SIZE__"', str(page_size))
    text = text.replace("__API_URL__", api_url).replace("__ACCESS_TOKEN__", token)
    config: dict[str, Any] = json.loads(text)
    return config


def main() -> int:
    """Build the source, run the pipeline, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--access-token", default="sandbox-token")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--pipelines-dir", type=Path, required=True)
    parser.add_argument("--pipeline-name", default="nexudus_jobs")
    parser.add_argument("--mode", choices=["extract", "run"], default="extract")
    parser.add_argument("--emit", choices=["records", "none"], default="records")
    args = parser.parse_args()

    source = rest_api_source(
        load_config(args.config, args.api_url, args.access_token, args.page_size)
    )
    count = 0
    write = sys.stdout.write

    def emit(item: dict[str, Any]) -> dict[str, Any]:
        nonlocal count
        count += 1
        if args.emit == "records":
            write(json.dumps({"type": "RECORD", "stream": STREAM, "record": item}) + "\n")
        return item

    source.resources[STREAM].add_step(AfterIncremental(emit))
    pipeline = dlt.pipeline(
        pipeline_name=args.pipeline_name,
        pipelines_dir=str(args.pipelines_dir),
        destination=dlt.destinations.duckdb(str(args.pipelines_dir / "jobs.duckdb")),
        dataset_name="nexudus",
    )
    if args.mode == "extract":
        pipeline.extract(source)
    else:
        pipeline.run(source)
    write(json.dumps({"type": "SUMMARY", "records": count}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
