"""Singer output: every line the tap writes is valid UTF-8 JSON, whatever text Nexudus sends.

A .NET string cut inside an emoji leaves a lone UTF-16 surrogate, which Nexudus escapes
(`\\ud83d`) in otherwise valid JSON; no UTF-8 encoder can write it (issue 20, case 1).
"""

from __future__ import annotations

import json
import logging
import typing as t

from nexudus_sandbox import NexudusSandbox
from tap_nexudus_jobs import output
from tests.conftest import job, mock_config, run_cli, run_tap, sandbox_config, serve_listing

HALF_AN_EMOJI = "Imported 3 rows for Zo\u00eb \ud83d"
REPAIRED = "Imported 3 rows for Zo\u00eb \ufffd"


def test_lone_surrogates_become_replacement_characters_and_the_paths_are_named() -> None:
    value = {"Id": 1, "Description": "a\ud83d", "CustomFields": {"N\udc00": ["ok", "\udfff"]}}

    repaired, paths = output.without_lone_surrogates(value)

    assert repaired == {
        "Id": 1,
        "Description": "a\ufffd",
        "CustomFields": {"N\ufffd": ["ok", "\ufffd"]},
    }
    assert paths == ["Description", "CustomFields.N\ufffd", "CustomFields.N\ufffd[1]"]
    # A pair json.loads joined is one character, valid: left alone.
    assert output.without_lone_surrogates("\U0001f600") == ("\U0001f600", [])


def test_half_an_emoji_is_repaired_named_once_and_the_run_goes_on(requests_mock, caplog) -> None:
    jobs = [
        job(1, "2025-01-01T00:00:00Z", Description=HALF_AN_EMOJI),
        job(2, "2025-01-01T00:00:05Z", Description=HALF_AN_EMOJI, CustomFields={"N": "x\udc00"}),
        job(3, "2025-01-01T00:00:09Z", Description="fine"),
    ]
    serve_listing(requests_mock, jobs)  # json.dumps escapes the surrogate: valid JSON

    with caplog.at_level(logging.WARNING):
        run = run_tap(mock_config(page_size=2))  # decodes every line as strict UTF-8

    assert run.ids == [1, 2, 3]
    assert [r["Description"] for r in run.records] == [REPAIRED, REPAIRED, "fine"]
    assert run.records[1]["CustomFields"] == {"N": "x\ufffd"}
    assert run.bookmark == "2025-01-01T00:00:09+00:00"
    warnings = [r.getMessage() for r in caplog.records if "not valid Unicode" in r.getMessage()]
    assert warnings == [
        f"Job {job_id}: field '{field}' holds text that is not valid Unicode (a lone UTF-16 "
        "surrogate, e.g. half an emoji); written with U+FFFD in its place"
        for job_id, field in ((1, "Description"), (2, "Description"), (2, "CustomFields.N"))
    ]


def test_through_the_cli_every_line_is_utf8_json_and_the_exit_is_0(tmp_path) -> None:
    with NexudusSandbox(records=30, seed=3) as sandbox:
        broken = min(sandbox.served_ids()) + 7
        with sandbox.lock:
            sandbox.jobs[broken]["Description"] = HALF_AN_EMOJI
        result = run_cli(sandbox_config(sandbox, page_size=10), tmp_path)

        assert result.exit_code == 0, result.stderr
        assert "Traceback" not in result.stderr
        messages: list[dict[str, t.Any]] = [json.loads(line) for line in result.stdout.splitlines()]
        records = {m["record"]["Id"]: m["record"] for m in messages if m["type"] == "RECORD"}
        assert set(records) == sandbox.served_ids()
        assert records[broken]["Description"] == REPAIRED
        assert [m for m in messages if m["type"] == "STATE"]
        (line,) = [line for line in result.stderr.splitlines() if "not valid Unicode" in line]
        assert f"Job {broken}: field 'Description'" in line
