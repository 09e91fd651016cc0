"""dlt's REST API source on the sandbox, as a dlt user would run it (runs in the dlt venv).

    benchmarks/.venvs/dlt/bin/python benchmarks/peers/dlt_rest_api.py \
        --config benchmarks/peers/dlt_rest_api.json --api-url URL --pipelines-dir DIR

The pipeline keeps its incremental state in ``--pipelines-dir`` (a second run there is
incremental). ``--mode extract`` stops after dlt's extract step; ``run`` also normalizes
and loads into DuckDB. ``--emit records`` prints each record that passes dlt's incremental
filter as a RECORD line, for the lost-record checks; ``none`` only a final
``{"type": "SUMMARY", "records": n}``.
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


def main() -> int:
    """Build the source, run the pipeline, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--pipelines-dir", type=Path, required=True)
    parser.add_argument("--mode", choices=["extract", "run"], default="extract")
    parser.add_argument("--emit", choices=["records", "none"], default="records")
    args = parser.parse_args()

    text = args.config.read_text(encoding="utf-8").replace('"__PAGE_SIZE__"', str(args.page_size))
    text = text.replace("__API_URL__", args.api_url).replace("__ACCESS_TOKEN__", "sandbox-token")
    source = rest_api_source(json.loads(text))
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
        pipeline_name="nexudus_jobs",
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
