"""End-to-end demo: local Nexudus sandbox -> tap-nexudus-jobs -> DuckDB, via `meltano run`.

What `make demo` runs (after it has created .venv and installed the Meltano plugins):

1. starts the sandbox (``python -m nexudus_sandbox``) on a free loopback port with
   2000 jobs (seed 42), 25 of them marked "updated now";
2. asks Meltano whether the demo pipeline already has a bookmark (incremental run) or not
   (full sync);
3. runs ``meltano --environment=demo run tap-nexudus-jobs target-duckdb dbt-duckdb:build``
   (with include_result_data, unpaced: the sandbox has no rate limits), which loads the jobs
   and builds the dbt package (transform/) in the same file;
4. reads the DuckDB file and prints what landed, and exits non-zero when the table does not
   hold exactly the jobs the sandbox serves (the check that catches silent row loss), or
   the staging model does not hold one row per job;
5. prints a short summary from the nexudus_import_failures model.

The sandbox is stopped at the end, also on failure. Run it twice: the second run starts
from the first run's bookmark and picks up only the jobs touched since.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT = "demo"
EXTRACTOR = "tap-nexudus-jobs"
LOADER = "target-duckdb"
DBT = "dbt-duckdb"
MODEL_SCHEMA = "analytics"  # dbt-duckdb's schema setting in meltano.yml
MODELS = ("stg_nexudus_jobs", "nexudus_job_outcomes", "nexudus_import_failures")
DBT_RESULTS = ROOT / "output" / "dbt-duckdb" / "target" / "run_results.json"
STATE_ID = f"{ENVIRONMENT}:{EXTRACTOR}-to-{LOADER}"
STREAM = "business_background_jobs"
SCHEMA = "nexudus"  # default_target_schema of target-duckdb in meltano.yml
TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's well-known static token
DEFAULT_DB = ROOT / "output" / "nexudus.duckdb"
RUN_LOG = ROOT / "output" / "demo-meltano-run.log"


class DemoError(Exception):
    """A failure with a message that says what went wrong; printed as one line."""


@dataclass(frozen=True)
class TableSummary:
    """What the DuckDB table holds after the run."""

    rows: int
    distinct_ids: int
    written_this_run: int
    max_updated_on: datetime | None
    per_status: list[tuple[str, int]]


@dataclass(frozen=True)
class ModelSummary:
    """What the dbt package built, and what nexudus_import_failures says."""

    rows: dict[str, int]
    warnings: list[tuple[str, int]]
    checks_passed: int
    failures: int
    reasons: list[tuple[str, int]]
    newest: tuple[datetime, str, str] | None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the defaults are what `make demo` uses."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=2000, help="jobs in the sandbox")
    parser.add_argument("--seed", type=int, default=42, help="sandbox data seed")
    parser.add_argument("--touch", type=int, default=25, help="jobs marked updated now")
    parser.add_argument(
        "--startup-timeout", type=float, default=30.0, help="seconds to wait for the sandbox"
    )
    parser.add_argument(
        "--run-timeout", type=float, default=900.0, help="seconds allowed for meltano run"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="stream Meltano's log instead of saving it"
    )
    return parser.parse_args(argv)


def meltano_executable() -> Path:
    """The meltano that `make venv` installs next to this interpreter (.venv/bin)."""
    candidates = [Path(sys.executable).parent / "meltano", ROOT / ".venv" / "bin" / "meltano"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise DemoError(
        f"meltano not found (looked for {', '.join(map(str, candidates))}); run `make venv`"
    )


def database_path() -> Path:
    """Where target-duckdb writes: TARGET_DUCKDB_FILEPATH if set, else meltano.yml's default."""
    configured = os.environ.get("TARGET_DUCKDB_FILEPATH")
    path = Path(configured) if configured else DEFAULT_DB
    return path if path.is_absolute() else ROOT / path


def pipeline_env(api_url: str, db_path: Path) -> dict[str, str]:
    """The environment for Meltano: sandbox URL and token, nothing inherited for the tap.

    Any TAP_NEXUDUS_JOBS_* variable in the caller's shell (a real token, say) would override
    meltano.yml; the demo must only ever talk to its own sandbox with the sandbox token.
    Explicit variables also beat a developer's .env file.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAP_NEXUDUS_")}
    env.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_NEXUDUS_JOBS_API_URL": api_url,
            "TAP_NEXUDUS_JOBS_ACCESS_TOKEN": TOKEN,
            # ResultData for the outcome models; the sandbox has no rate limits to respect.
            "TAP_NEXUDUS_JOBS_INCLUDE_RESULT_DATA": "true",
            "TAP_NEXUDUS_JOBS_REQUESTS_PER_MINUTE": "1000000",
            "TAP_NEXUDUS_JOBS_REQUESTS_PER_HOUR": "1000000",
            "TAP_NEXUDUS_JOBS_MIN_REQUEST_INTERVAL_MS": "0",
            "TARGET_DUCKDB_FILEPATH": str(db_path),
            "DBT_DUCKDB_PATH": str(db_path),
        }
    )
    return env


@contextmanager
def running_sandbox(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    """Start the sandbox subprocess, yield its base URL, and always stop it."""
    port_file = workdir / "sandbox.url"
    log_path = workdir / "sandbox.log"
    command = [
        sys.executable,
        "-m",
        "nexudus_sandbox",
        "--records",
        str(args.records),
        "--seed",
        str(args.seed),
        "--touch",
        str(args.touch),
        "--port",
        "0",
        "--port-file",
        str(port_file),
    ]
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        url = wait_for_port_file(process, port_file, log_path, args.startup_timeout)
        banner = next(
            (line for line in read_text(log_path).splitlines() if "listening on" in line), url
        )
        print(f"Sandbox:  {banner.strip()}, {args.touch} touched now (pid {process.pid})")
        yield url
    finally:
        stop_process(process)


def read_text(path: Path) -> str:
    """A file's text, or '' if it does not exist (yet)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def wait_for_port_file(
    process: subprocess.Popen[bytes], port_file: Path, log_path: Path, timeout: float
) -> str:
    """Poll for the URL the sandbox writes once it listens; fail clearly if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = read_text(port_file).strip()
        if url.startswith("http"):
            return url
        if process.poll() is not None:
            raise DemoError(
                f"sandbox exited with code {process.returncode} before listening:\n"
                + tail(read_text(log_path))
            )
        time.sleep(0.1)
    raise DemoError(
        f"sandbox did not write {port_file} within {timeout:.0f}s:\n" + tail(read_text(log_path))
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def tail(text: str, lines: int = 40) -> str:
    """The last lines of a log, indented."""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def jobs_served(api_url: str) -> int:
    """TotalItems of the sandbox's listing (one tiny request)."""
    request = urllib.request.Request(  # noqa: S310 - loopback URL of our own sandbox
        f"{api_url}/api/sys/businessbackgroundjobs?size=1",
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        payload: dict[str, Any] = json.load(response)
    return int(payload["TotalItems"])


def meltano(
    args: list[str], env: Mapping[str, str], timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run a short meltano command from the project root, capturing its output."""
    return subprocess.run(  # noqa: S603 - fixed argv
        [str(meltano_executable()), *args],
        cwd=ROOT,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def current_bookmark(env: Mapping[str, str]) -> str | None:
    """The UpdatedOn bookmark Meltano holds for the demo pipeline, or None (no state yet)."""
    result = meltano([f"--environment={ENVIRONMENT}", "state", "get", STATE_ID], env)
    if result.returncode != 0:
        raise DemoError(f"`meltano state get {STATE_ID}` failed:\n" + tail(result.stderr))
    text = result.stdout.strip()
    state: dict[str, Any] = json.loads(text) if text else {}
    bookmarks = state.get("singer_state", {}).get("bookmarks", {})
    stream_state = bookmarks.get(STREAM, {})
    value = stream_state.get("replication_key_value")
    if value is None:
        # A partitioned or progress-only state still means "not a clean first run".
        value = stream_state.get("progress_markers", {}).get("replication_key_value")
    return str(value) if value is not None else None


def table_rows(db_path: Path) -> int | None:
    """Rows in the demo table, or None if the file or table does not exist."""
    if not db_path.exists():
        return None
    with duckdb.connect(str(db_path), read_only=True) as connection:
        found = connection.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [SCHEMA, STREAM],
        ).fetchone()
        if not found or found[0] == 0:
            return None
        table = qualified_table(connection)
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(row[0]) if row else 0


def qualified_table(connection: Any) -> str:
    """The table as catalog.schema.table, quoted; built from constants only.

    target-duckdb names the catalog after the file, so with nexudus.duckdb a bare
    ``nexudus.business_background_jobs`` would be ambiguous.
    """
    row = connection.execute("SELECT current_database()").fetchone()
    catalog = str(row[0]) if row else "main"
    return ".".join(f'"{part}"' for part in (catalog, SCHEMA, STREAM))


def run_pipeline(
    env: Mapping[str, str], full_refresh: bool, verbose: bool, timeout: float
) -> float:
    """`meltano run tap-nexudus-jobs target-duckdb dbt-duckdb:build`; returns its duration."""
    command = [str(meltano_executable()), f"--environment={ENVIRONMENT}", "run"]
    if full_refresh:
        command.append("--full-refresh")
    command += [EXTRACTOR, LOADER, f"{DBT}:build"]
    shown = " ".join(["meltano", *command[1:]])
    print(f"Running:  {shown}" + ("" if verbose else f"  (log: {relative(RUN_LOG)})"))
    RUN_LOG.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with RUN_LOG.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            command,
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=None if verbose else log,
            stderr=None if verbose else subprocess.STDOUT,
            start_new_session=True,  # so a timeout can stop meltano *and* tap/target
        )
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            raise DemoError(f"meltano run did not finish within {timeout:.0f}s") from None
        except BaseException:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
            raise
    elapsed = time.monotonic() - started
    if returncode != 0:
        log_text = "" if verbose else "\n" + tail(read_text(RUN_LOG))
        raise DemoError(f"meltano run failed with exit code {returncode}{log_text}")
    return elapsed


def summarise(db_path: Path, run_started: datetime) -> TableSummary:
    """Counts from the DuckDB table (column names are lower-cased by target-duckdb)."""
    if not db_path.exists():
        raise DemoError(f"meltano run succeeded but {db_path} does not exist")
    with duckdb.connect(str(db_path), read_only=True) as connection:
        table = qualified_table(connection)
        columns = {
            name
            for (name,) in connection.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ?",
                [SCHEMA, STREAM],
            ).fetchall()
        }
        if not columns:
            raise DemoError(f"meltano run succeeded but table {table} is missing in {db_path}")
        rows, distinct_ids, max_updated = connection.execute(
            f"SELECT count(*), count(DISTINCT id), max(updatedon) FROM {table}"  # noqa: S608
        ).fetchone() or (0, 0, None)
        # target-duckdb stamps _sdc_batched_at with its local wall-clock time.
        written = connection.execute(
            f"SELECT count(*) FROM {table} WHERE _sdc_batched_at >= ?",  # noqa: S608
            [run_started],
        ).fetchone()
        per_status: list[tuple[str, int]] = []
        if "status" in columns:
            per_status = [
                (str(status), int(count))
                for status, count in connection.execute(
                    f"SELECT coalesce(status, '(null)'), count(*) FROM {table} "  # noqa: S608
                    "GROUP BY 1 ORDER BY 2 DESC, 1"
                ).fetchall()
            ]
    return TableSummary(
        rows=int(rows),
        distinct_ids=int(distinct_ids),
        written_this_run=int(written[0]) if written else 0,
        max_updated_on=max_updated,
        per_status=per_status,
    )


def summarise_models(db_path: Path) -> ModelSummary:
    """Row counts of the models, dbt's warnings, and the import failures' reasons."""
    results = json.loads(DBT_RESULTS.read_text(encoding="utf-8"))["results"]
    tests = [r for r in results if r["unique_id"].startswith(("test.", "unit_test."))]
    warnings = [
        (str(r["unique_id"]).split(".")[2], int(r["failures"]))
        for r in tests
        if r["status"] == "warn"
    ]
    schema = f'"{MODEL_SCHEMA}"'
    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = {}
        for model in MODELS:
            row = connection.execute(f"SELECT count(*) FROM {schema}.{model}").fetchone()  # noqa: S608
            rows[model] = int(row[0]) if row else 0
        failures = f"{schema}.nexudus_import_failures"
        reasons = connection.execute(
            f"SELECT coalesce(reason, '(no ResultData)'), count(*) FROM {failures} "  # noqa: S608
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
        ).fetchall()
        newest = connection.execute(
            f"SELECT failed_at, user_full_name, coalesce(files, '') FROM {failures} "  # noqa: S608
            "ORDER BY failed_at DESC NULLS LAST, job_id LIMIT 1"
        ).fetchone()
    return ModelSummary(
        rows=rows,
        warnings=warnings,
        checks_passed=sum(r["status"] == "pass" for r in tests),
        failures=rows["nexudus_import_failures"],
        reasons=[(str(reason), int(count)) for reason, count in reasons],
        newest=(newest[0], str(newest[1]), str(newest[2])) if newest else None,
    )


def print_models(models: ModelSummary) -> None:
    """The dbt package's part of the demo's report."""
    counts = ", ".join(f"{name} {count}" for name, count in models.rows.items())
    print(f"dbt package nexudus_jobs, schema {MODEL_SCHEMA}: {counts} rows")
    warned = "; ".join(f"{name} ({count} rows)" for name, count in models.warnings)
    print(f"  tests: {models.checks_passed} passed, {len(models.warnings)} warned: {warned or '-'}")
    print(f"  imports that failed (nexudus_import_failures): {models.failures}")
    if models.newest:
        failed_at, who, files = models.newest
        print(f"    newest: {failed_at} by {who} ({files or 'no file'})")
    for reason, count in models.reasons:
        print(f"    {count:>5}  {reason}")


def report_failure(message: str) -> None:
    """One ``DEMO FAILED: ...`` line on stderr, after everything already printed."""
    sys.stdout.flush()
    print(f"DEMO FAILED: {message}", file=sys.stderr, flush=True)


def relative(path: Path) -> str:
    """A path relative to the project root when it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when the table holds exactly the jobs the sandbox serves."""
    args = parse_args(argv)
    db_path = database_path()
    print(f"== tap-nexudus-jobs demo: sandbox -> meltano run -> {relative(db_path)}")
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        with (
            tempfile.TemporaryDirectory(prefix="nexudus-demo-") as workdir,
            running_sandbox(args, Path(workdir)) as api_url,
        ):
            env = pipeline_env(api_url, db_path)
            served = jobs_served(api_url)
            bookmark = current_bookmark(env)
            existing_rows = table_rows(db_path)
            full_refresh = False
            if bookmark is None:
                mode = "full sync (no Meltano state yet for this pipeline)"
            elif existing_rows is None:
                # State without the table it describes (output/ deleted): start over, or the
                # incremental run would only load what changed since the bookmark.
                full_refresh = True
                mode = f"full sync (state {STATE_ID} exists but {relative(db_path)} has no table)"
            else:
                mode = f"incremental run from bookmark UpdatedOn={bookmark}"
            print(f"State:    {STATE_ID}: {mode}")

            run_started = datetime.now()  # naive local time, like target-duckdb's stamp
            elapsed = run_pipeline(env, full_refresh, args.verbose, args.run_timeout)
            print(f"Finished: meltano run took {elapsed:.1f}s")

            summary = summarise(db_path, run_started)
            models = summarise_models(db_path)
            new_bookmark = current_bookmark(env)
    except duckdb.Error as exc:
        report_failure(f"reading {db_path}: {exc}")
        return 1
    except (DemoError, OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        # OSError: also the sandbox request (URLError); SubprocessError: a meltano timeout.
        report_failure(str(exc))
        return 1

    incremental = bookmark is not None and not full_refresh
    print()
    # The catalog is the file name: `nexudus.business_background_jobs` is ambiguous in DuckDB.
    print(f"Result in {relative(db_path)}, table {db_path.stem}.{SCHEMA}.{STREAM}:")
    print(f"  this run:               {mode}")
    print(f"  jobs served by sandbox: {served}")
    print(f"  rows in table:          {summary.rows} ({summary.distinct_ids} distinct Ids)")
    print(f"  rows written this run:  {summary.written_this_run}")
    print(f"  newest UpdatedOn (UTC): {summary.max_updated_on}")
    print(f"  bookmark now:           UpdatedOn={new_bookmark}")
    if summary.per_status:
        print("  jobs per Status:")
        width = max(len(status) for status, _ in summary.per_status)
        for status, count in summary.per_status:
            print(f"    {status:<{width}}  {count:>6}")
    print()
    print_models(models)

    problems: list[str] = []
    if summary.rows != served:
        why = (
            "rows were lost on the way"
            if summary.rows < served
            else "the table holds rows the sandbox does not serve (an older DuckDB file?)"
        )
        problems.append(
            f"rows in table ({summary.rows}) != jobs served by the sandbox ({served}): {why}"
        )
    if summary.distinct_ids != summary.rows:
        problems.append(f"{summary.rows - summary.distinct_ids} duplicate Ids in the table")
    if incremental and summary.written_this_run < args.touch:
        problems.append(
            f"incremental run wrote {summary.written_this_run} rows, but the sandbox touched "
            f"{args.touch} jobs since the last run"
        )
    if not incremental and summary.written_this_run != served:
        problems.append(
            f"full sync wrote {summary.written_this_run} rows, expected all {served} jobs"
        )
    if new_bookmark is None:
        problems.append(f"no bookmark saved in Meltano state {STATE_ID}")
    if models.rows["stg_nexudus_jobs"] != summary.distinct_ids:
        problems.append(
            f"stg_nexudus_jobs has {models.rows['stg_nexudus_jobs']} rows, "
            f"the table {summary.distinct_ids} jobs"
        )
    print()
    if problems:
        for problem in problems:
            report_failure(problem)
        print("(`make clean` resets the demo's DuckDB file and Meltano state)", file=sys.stderr)
        return 1
    kind = "incremental run" if incremental else "full sync"
    print(
        f"OK: {kind} - table holds exactly the {served} jobs the sandbox serves; "
        f"{summary.written_this_run} rows written by this run."
    )
    if not incremental:
        print("Run `make demo` again for an incremental run from the bookmark.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
