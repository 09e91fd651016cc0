"""Checks on the tap's settings beyond what JSON Schema can say, as one-line messages."""

from __future__ import annotations

import ipaddress
import typing as t
from urllib.parse import urlsplit

from jsonschema import Draft7Validator

from tap_nexudus_jobs.budget import budget_setting_problem
from tap_nexudus_jobs.config_values import configured
from tap_nexudus_jobs.timestamps import FILTER_MINUTE_FORMAT, parse_timestamp

# Equality filters of the endpoint, by the suffix after `BusinessBackgroundJob_`,
# with the type Nexudus documents for each; plus the CreatedOn range filters.
FILTER_KEYS: dict[str, type] = {
    "Business": int,
    "Business_Name": str,
    "User": int,
    "User_FullName": str,
    "User_Email": str,
    "JobId": str,
    "Description": str,
    "Files": str,
    "Status": str,
    "ResultData": str,
    "from_CreatedOn": str,
    "to_CreatedOn": str,
}
CREATED_ON_RANGE_KEYS = ("from_CreatedOn", "to_CreatedOn")
SECRET_SETTINGS = frozenset({"access_token", "password", "totp"})


def find_setting_problems(config: t.Mapping[str, t.Any], schema: dict[str, t.Any]) -> list[str]:
    """Every problem with `config`, each one line naming the setting at fault."""
    problems = [_describe_schema_error(error) for error in _schema_errors(config, schema)]
    if problems:
        return problems
    problems = _semantic_problems(config)
    budget = budget_setting_problem(
        config.get("max_requests_per_run"),
        int(configured(config, schema, "page_size")),
        bool(configured(config, schema, "include_result_data")),
    )
    return [*problems, budget] if budget else problems


def _schema_errors(config: t.Mapping[str, t.Any], schema: dict[str, t.Any]) -> list[t.Any]:
    validator = Draft7Validator(schema)
    return sorted(validator.iter_errors(dict(config)), key=lambda e: list(map(str, e.path)))


def _describe_schema_error(error: t.Any) -> str:
    path = [str(part) for part in error.path]
    if not path:
        if error.validator == "additionalProperties":
            return f"Unknown setting: {error.message}"
        return f"Invalid settings: {error.message}"
    name = ".".join(path)
    if path[0] == "filters" and error.validator == "additionalProperties":
        allowed = ", ".join(FILTER_KEYS)
        return f"Setting 'filters' has an unknown key ({error.message}); allowed: {allowed}"
    if path[0] in SECRET_SETTINGS:
        # jsonschema messages quote the value: never echo a secret.
        return f"Setting '{name}' is invalid: expected {error.validator} {error.validator_value}"
    return f"Setting '{name}' is invalid: {error.message}"


def _semantic_problems(config: t.Mapping[str, t.Any]) -> list[str]:
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
    if problem := api_url_problem(config.get("api_url", "https://spaces.nexudus.com")):
        problems.append(problem)
    if config.get("start_date"):
        try:
            parse_timestamp(str(config["start_date"]))
        except ValueError:
            problems.append(
                f"Setting 'start_date' is not an ISO 8601 date-time: {config['start_date']!r}"
            )
    for key in CREATED_ON_RANGE_KEYS:
        value = (config.get("filters") or {}).get(key)
        if value is not None:
            try:
                parse_timestamp(str(value))
            except ValueError:
                problems.append(
                    f"Setting 'filters.{key}' is not a date-time "
                    f"(expected {FILTER_MINUTE_FORMAT.replace('%', '')} or ISO 8601): {value!r}"
                )
    return problems


def api_url_problem(api_url: str) -> str | None:
    """Why `api_url` cannot be used, or None: it must be https, or http on loopback."""
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
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
