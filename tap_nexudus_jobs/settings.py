"""The tap's settings: their schema (names, types, defaults, descriptions) and their checks.

The schema is what `--about`, Meltano's plugin definitions and the README's table show;
every problem with a value is reported as one line naming the setting.

Meltano hands every setting over as the user typed it (the plugin declares each one with
`kind: string`, which Meltano does not rewrite), and environment variables are text too,
so a value that arrives as text is parsed here by the setting's declared type: strictly,
so that `yesterday`, `ture` or `1,000` are errors rather than guesses.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import typing as t
from datetime import datetime
from urllib.parse import urlsplit

from singer_sdk import typing as th
from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR, extend_validator_with_defaults

from tap_nexudus_jobs.budget import budget_setting_problem
from tap_nexudus_jobs.nexudus_api import EQUALITY_FILTERS, MAX_PAGE_SIZE, PUBLISHED_LIMITS
from tap_nexudus_jobs.pacing import MIN_INTERVAL_MS
from tap_nexudus_jobs.timestamps import (
    parse_setting_date_time,
    to_utc_iso,
)

# Fills each missing setting with its schema default while validating (the SDK's own way).
_VALIDATOR_WITH_DEFAULTS = extend_validator_with_defaults(DEFAULT_JSONSCHEMA_VALIDATOR)
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")
_JSON_TYPES: dict[str, type] = {"array": list, "object": dict}

# The `filters` setting: the endpoint's equality filters by the suffix after
# `BusinessBackgroundJob_`, with their documented types, plus the CreatedOn range filters.
CREATED_ON_RANGE_KEYS = ("from_CreatedOn", "to_CreatedOn")
FILTER_KEYS: dict[str, type] = {
    **{suffix: kind for suffix, (_field, kind) in EQUALITY_FILTERS.items()},
    **dict.fromkeys(CREATED_ON_RANGE_KEYS, str),
}
SECRET_SETTINGS = frozenset({"access_token", "password", "totp"})

FILTER_PROPERTIES = [
    th.Property(
        key,
        th.IntegerType if kind is int else th.StringType,
        description=(
            f"Jobs created on or {'after' if key.startswith('from') else 'before'} this "
            "date-time (minute precision)."
            if key in CREATED_ON_RANGE_KEYS
            else f"Sent as BusinessBackgroundJob_{key}: only jobs whose "
            f"{key.replace('_', ' ')} equals this value."
        ),
    )
    for key, kind in FILTER_KEYS.items()
]

SETTINGS_SCHEMA: dict[str, t.Any] = th.PropertiesList(
    th.Property(
        "api_url",
        th.StringType,
        default="https://spaces.nexudus.com",
        title="API URL",
        description="Base URL of the Nexudus API, without the /api/... path. Plain "
        "http:// only for loopback hosts.",
    ),
    th.Property(
        "access_token",
        th.StringType,
        secret=True,
        title="Access token",
        description="Static bearer token. Give this, or username and password.",
    ),
    th.Property(
        "username",
        th.StringType,
        title="Username",
        description="Nexudus administrator e-mail, for the OAuth password grant.",
    ),
    th.Property(
        "password",
        th.StringType,
        secret=True,
        title="Password",
        description="Password for `username`.",
    ),
    th.Property(
        "totp",
        th.StringType(pattern=r"^[0-9]{6,8}$"),
        secret=True,
        title="TOTP code",
        description="Two-factor code (6 to 8 digits), for users with two-factor authentication.",
    ),
    th.Property(
        "client_id",
        th.StringType,
        title="Client ID",
        description="`client_id` header for /api/token; Nexudus uses the e-mail if omitted.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start date",
        description="ISO 8601 date-time, e.g. 2024-01-31T00:00:00Z (no offset: UTC; "
        "a plain date is midnight UTC); jobs last updated before it are skipped. "
        "Default: all history.",
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
        default=1000,
        title="Page size",
        description="Records per listing request (1 to 1000).",
    ),
    th.Property(
        "lookback_minutes",
        th.IntegerType(minimum=0),
        default=60,
        title="Lookback minutes",
        description="Minutes before the bookmark each run reads again, so that a "
        "record clock that jumps back (e.g. local time at the end of daylight saving) "
        "loses nothing. Versions already delivered there are neither fetched nor "
        "emitted again.",
    ),
    th.Property(
        "filters",
        th.ObjectType(*FILTER_PROPERTIES, additional_properties=False),
        title="Filters",
        description='Endpoint filters by suffix (e.g. {"Business": 1001, '
        '"Status": "Failed"}), plus from_CreatedOn / to_CreatedOn.',
    ),
    th.Property(
        "business_ids",
        th.ArrayType(th.IntegerType),
        title="Business Ids",
        description="Extract only these Nexudus businesses (locations), one partition "
        "each with its own bookmark, so workers can split an account. Default: one "
        "unpartitioned stream over every business.",
    ),
    th.Property(
        "include_result_data",
        th.BooleanType,
        default=False,
        title="Include ResultData",
        description="Also fetch each emitted job's full record, for ResultData: one "
        "get-one request per job changed since the last run (needs the "
        "BusinessBackgroundJob-Read role). Paced like every request.",
    ),
    th.Property(
        "result_data_skip_statuses",
        th.ArrayType(th.StringType),
        default=["Queued", "Running"],
        title="ResultData skip statuses",
        description="With include_result_data: jobs in these Status values have no "
        "result yet and are emitted from the listing without a get-one request; when "
        "their status changes, their new version is fetched. Other statuses, unknown "
        "ones included, are fetched.",
    ),
    th.Property(
        "max_requests_per_run",
        th.IntegerType(minimum=1),
        title="Max requests per run",
        description="Stop cleanly (exit 0, resumable STATE) before the request that "
        "would exceed this many in one run; token, listing and get-one requests all "
        "count. Must cover one listing page: 1 request, plus page_size get-ones with "
        "include_result_data. Default: no cap.",
    ),
    th.Property(
        "requests_per_minute",
        th.IntegerType(minimum=1),
        default=PUBLISHED_LIMITS["limit_per_minute"],
        title="Requests per minute",
        description="Pacing: the most requests the tap sends in any minute.",
    ),
    th.Property(
        "min_request_interval_ms",
        th.IntegerType(minimum=0),
        default=MIN_INTERVAL_MS,
        title="Minimum request interval (ms)",
        description="Pacing: the least time between two requests. Nexudus allows one "
        "per 100 ms; the default keeps 10 ms for network jitter. Lower it only for a "
        "server without that limit (e.g. the local sandbox in benchmarks).",
    ),
    th.Property(
        "requests_per_hour",
        th.IntegerType(minimum=1),
        default=PUBLISHED_LIMITS["limit_per_hour"],
        title="Requests per hour",
        description="Pacing: the most requests the tap sends in any hour, counting "
        "those earlier runs on the same state sent (kept in STATE). A run that would "
        "wait more than 5 minutes for the hour's budget stops cleanly instead.",
    ),
    th.Property(
        "request_timeout",
        th.IntegerType(minimum=1),
        default=60,
        title="Request timeout (s)",
        description="Seconds one request may take in all, its whole answer included "
        "(connecting: at most 10). A request past it is retried like a 5xx.",
    ),
).to_dict()


def settings_problems(
    config: dict[str, t.Any], schema: dict[str, t.Any], environ: t.Mapping[str, str], prefix: str
) -> list[str]:
    """Unknown names first (a typo would hide behind a default), then `prepare_settings`."""
    problems = unknown_setting_problems(config, schema, environ, prefix)
    return problems or prepare_settings(config, schema)


def as_text(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """`schema` with every setting declared as text, for reading environment variables:
    `prepare_settings` then parses each by its real type, as strictly as Meltano's values."""
    return {"properties": {key: {"type": "string"} for key in schema["properties"]}}


def unknown_setting_problems(
    config: t.Mapping[str, t.Any],
    schema: dict[str, t.Any],
    environ: t.Mapping[str, str],
    prefix: str,
) -> list[str]:
    """A setting name the tap does not declare, from the config or `<prefix>*` variables.

    A typo (`pagesize`) would otherwise leave the default in force without a word. Meltano
    passes undeclared `meltano.yml` keys into the config and every variable with the
    prefix into the environment; `<prefix>_...` (a double underscore) are its own extras.
    """
    declared = list(schema.get("properties", {}))
    problems = [_unknown(name, declared) for name in config if name not in declared]
    variables = sorted(f"{prefix}{name.upper()}" for name in declared)
    ours = [v for v in sorted(environ) if v.startswith(prefix) and not v.startswith(f"{prefix}_")]
    problems += [_unknown(v, variables, source="variable") for v in ours if v not in variables]
    return problems


def _unknown(name: str, declared: list[str], *, source: str = "setting") -> str:
    squashed = {known.replace("_", "").lower(): known for known in declared}
    close = difflib.get_close_matches(name.replace("_", "").lower(), squashed, n=1, cutoff=0.7)
    what = "Unknown setting" if source == "setting" else "Unknown environment variable"
    if close:
        return f"{what} '{name}'; did you mean '{squashed[close[0]]}'?"
    return f"{what} '{name}'; `tap-nexudus-jobs --about` lists the settings"


def prepare_settings(config: dict[str, t.Any], schema: dict[str, t.Any]) -> list[str]:
    """Make `config` ready to use, in place; every problem as one line naming the setting.

    Text values of non-text settings are parsed, missing (or null) settings get the default
    (so code reads `config["page_size"]` and the default lives only in the schema), and
    date-time settings are rewritten in one UTC ISO 8601 form every Python version reads.
    """
    for name in [name for name, value in config.items() if value is None]:
        del config[name]  # null means "not set": the default applies
    problems = _parse_text_values(config, schema)
    problems += [_describe_schema_error(error) for error in _schema_errors(config, schema)]
    if problems:
        return problems
    problems = _semantic_problems(config)
    budget = budget_setting_problem(
        config.get("max_requests_per_run"),
        int(config["page_size"]),
        bool(config["include_result_data"]),
    )
    return [*problems, budget] if budget else problems


def _parse_text_values(config: dict[str, t.Any], schema: dict[str, t.Any]) -> list[str]:
    problems = []
    for name, spec in schema.get("properties", {}).items():
        value = config.get(name)
        kinds = _json_types(spec)
        if not isinstance(value, str) or "string" in kinds:
            continue
        text = value.strip()
        if "integer" in kinds:
            if _WHOLE_NUMBER.fullmatch(text):
                config[name] = int(text)
                continue
            problems.append(f"Setting '{name}' is not a whole number: {value!r}")
        elif "boolean" in kinds:
            if text.lower() in ("true", "false"):
                config[name] = text.lower() == "true"
                continue
            problems.append(f"Setting '{name}' is not true or false: {value!r}")
        elif kind := next((k for k in ("array", "object") if k in kinds), None):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, _JSON_TYPES[kind]):
                config[name] = parsed
                continue
            example = "[1001, 1002]" if kind == "array" else '{"Status": "Failed"}'
            problems.append(f"Setting '{name}' is not a JSON {kind} (e.g. {example}): {value!r}")
    return problems


def _json_types(spec: dict[str, t.Any]) -> set[str]:
    declared = spec.get("type", [])
    kinds = {declared} if isinstance(declared, str) else set(declared)
    for alternative in spec.get("anyOf", []) + spec.get("oneOf", []):
        kinds |= _json_types(alternative)
    return kinds


def _schema_errors(config: dict[str, t.Any], schema: dict[str, t.Any]) -> list[t.Any]:
    validator = _VALIDATOR_WITH_DEFAULTS(schema)
    return sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path)))


def _describe_schema_error(error: t.Any) -> str:
    path = [str(part) for part in error.path]
    if not path:
        # Unknown names never get here: unknown_setting_problems reports them first.
        return f"Invalid settings: {error.message}"
    name = ".".join(path)
    if path[0] == "filters" and error.validator == "additionalProperties":
        allowed = ", ".join(FILTER_KEYS)
        return f"Setting 'filters' has an unknown key ({error.message}); allowed: {allowed}"
    if path[0] in SECRET_SETTINGS:
        # jsonschema messages quote the value: never echo a secret.
        return f"Setting '{name}' is invalid: expected {error.validator} {error.validator_value}"
    return f"Setting '{name}' is invalid: {error.message}"


def _semantic_problems(config: dict[str, t.Any]) -> list[str]:
    problems: list[str] = []
    has_token = bool(config.get("access_token"))
    has_login = bool(config.get("username")) and bool(config.get("password"))
    if not has_token and not has_login:
        problems.append(
            "Settings 'access_token', or 'username' and 'password', are required: "
            "give one way to authenticate with Nexudus"
        )
    business_ids = config.get("business_ids")
    if business_ids is not None:
        if not business_ids:
            problems.append("Setting 'business_ids' is empty: list at least one business Id")
        elif len(set(business_ids)) != len(business_ids):
            problems.append("Setting 'business_ids' lists a business Id twice")
        if (config.get("filters") or {}).get("Business") is not None:
            problems.append(
                "Settings 'business_ids' and 'filters.Business' both select businesses: "
                "use business_ids"
            )
    if problem := api_url_problem(config["api_url"]):
        problems.append(problem)
    filters = config.get("filters") or {}
    for name, holder, key in [
        ("start_date", config, "start_date"),
        *((f"filters.{key}", filters, key) for key in CREATED_ON_RANGE_KEYS),
    ]:
        value = holder.get(key)
        if value is None:
            continue
        try:
            holder[key] = to_utc_iso(read_date_time_setting(str(value)))
        except ValueError as exc:
            problems.append(f"Setting '{name}' {exc}: {value!r}")
    return problems


def read_date_time_setting(value: str) -> datetime:
    """A date-time setting; a plain date (`2025-01-01`) is midnight UTC, as most taps read
    it (it was refused, and every user wrote the same `T00:00:00Z` by hand)."""
    text = value.strip()
    return parse_setting_date_time(f"{text}T00:00:00Z" if _PLAIN_DATE.fullmatch(text) else text)


def api_url_problem(api_url: str) -> str | None:
    """Why `api_url` cannot be used, or None: an https base URL (http on loopback)."""
    parts = urlsplit(str(api_url))
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"Setting 'api_url' is not an http(s) URL: {api_url!r}"
    if parts.username or parts.password:
        return "Setting 'api_url' must not carry credentials; use access_token or username/password"
    if parts.query or parts.fragment:
        return f"Setting 'api_url' must be a base URL without query or fragment: {api_url!r}"
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return (
            f"Setting 'api_url' uses plain http:// for a non-loopback host ({parts.hostname}); "
            "use https:// so the token is not sent in clear text"
        )
    if api := _API_SEGMENT.search(parts.path):
        # The endpoint's URL pasted from the docs ended in a bare 404 for its path twice.
        base = f"{parts.scheme}://{parts.netloc}{parts.path[: api.start()]}"
        return (
            "Setting 'api_url' is the base URL, without Nexudus's /api/... path: "
            f"use {base!r}, not {api_url!r}"
        )
    return None


_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Every Nexudus API path starts with /api/ (nexudus_api.py); a base URL may have a prefix
# of its own (a proxy), but not that.
_API_SEGMENT = re.compile(r"/api(?:/|$)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
