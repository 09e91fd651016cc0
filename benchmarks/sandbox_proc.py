"""The Nexudus sandbox in a process of its own, driven over stdin/stdout by the harness.

Run by ``run.py`` (never by hand): ``python benchmarks/sandbox_proc.py --records N``.
Keeping the sandbox out of the harness and out of the measured client means its CPU
(rendering pages) is never charged to the client, and the harness can still read the
request log and the served versions through a one-line JSON protocol:

    -> {"cmd": "log"}          <- {"entries": [[kind, status, fault, start, end], ...]}
    -> {"cmd": "clear_log"}    <- {"ok": true}
    -> {"cmd": "versions"}     <- {"versions": {"<Id>": "<UpdatedOn>", ...}}
    -> {"cmd": "faults", "faults": {...SandboxFaults fields...}}   <- {"ok": true}
    -> {"cmd": "quit"}         <- {"ok": true}

The first line written is ``{"url": "http://127.0.0.1:PORT", "jobs": N}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nexudus_sandbox import NexudusSandbox, SandboxFaults

LISTING_PATH = "/api/sys/businessbackgroundjobs"


def request_kind(path: str) -> str:
    """token, listing, get-one or other."""
    lowered = path.rstrip("/").lower()
    if lowered == "/api/token":
        return "token"
    if lowered == LISTING_PATH:
        return "listing"
    if lowered.startswith(LISTING_PATH + "/"):
        return "get-one"
    return "other"


def handle(sandbox: NexudusSandbox, command: dict[str, Any]) -> dict[str, Any]:
    """Answer one command."""
    name = command.get("cmd")
    if name == "log":
        entries = [
            [request_kind(e.path), e.status, e.fault, e.started_at, e.finished_at]
            for e in sandbox.log_snapshot()
        ]
        return {"entries": entries}
    if name == "clear_log":
        sandbox.clear_log()
        return {"ok": True}
    if name == "versions":
        return {"versions": {str(k): v for k, v in sandbox.current_versions().items()}}
    if name == "faults":
        sandbox.faults = SandboxFaults(**command.get("faults", {}))
        return {"ok": True}
    if name == "quit":
        return {"ok": True}
    return {"error": f"unknown command {name!r}"}


def main() -> int:
    """Serve until the harness says quit (or closes stdin)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--faults", default="{}", help="SandboxFaults fields as JSON")
    args = parser.parse_args()
    faults = SandboxFaults(**json.loads(args.faults))
    sandbox = NexudusSandbox(records=args.records, seed=args.seed, faults=faults)
    url = sandbox.start()
    try:
        print(json.dumps({"url": url, "jobs": len(sandbox.jobs)}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            print(json.dumps(handle(sandbox, command)), flush=True)
            if command.get("cmd") == "quit":
                break
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
