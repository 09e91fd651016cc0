"""docs/warehouses.md's Snowflake and BigQuery analyst queries parse, and name only real columns.

No local Snowflake can run target-snowflake's load, so the Snowflake block is checked with
sqlglot's Snowflake dialect: each query must parse, read the table the definition loads
(RAW.NEXUDUS.BUSINESS_BACKGROUND_JOBS for the database RAW the docs use), and name only columns
the tap emits. The BigQuery block gets the same check with the BigQuery dialect (it also
runs on an emulator in tests/test_bigquery_end_to_end.py).
"""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from tap_nexudus_jobs.streams import BusinessBackgroundJobsStream
from tests.meltano_runs import ROOT

README = ROOT / "docs" / "warehouses.md"
COLUMNS = {name.lower() for name in BusinessBackgroundJobsStream.schema["properties"]}
BLOCKS = {
    "snowflake": ("<!-- snowflake-queries:start -->", "<!-- snowflake-queries:end -->"),
    "bigquery": ("<!-- bigquery-queries:start -->", "<!-- bigquery-queries:end -->"),
}
TABLES = {
    "snowflake": "raw.nexudus.business_background_jobs",
    "bigquery": "my-gcp-project.nexudus.business_background_jobs",
}


def readme_queries(dialect: str) -> list[str]:
    start, end = BLOCKS[dialect]
    text = README.read_text(encoding="utf-8")
    assert text.count(start) == 1 and text.count(end) == 1, f"needs one {start}..{end}"
    section = text[text.index(start) : text.index(end)]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def table_names(tree: exp.Expr) -> set[str]:
    return {
        ".".join(part for part in (table.catalog, table.db, table.name) if part).lower()
        for table in tree.find_all(exp.Table)
    }


def unknown_columns(tree: exp.Expr) -> set[str]:
    """Columns read from the jobs table that the tap does not emit.

    Select-list aliases (`failed`, `reason`) and the fields of a FLATTEN/UNNEST alias
    (`f.key`, `key`) are the query's own names, not the table's.
    """
    aliases = {alias.alias.lower() for alias in tree.find_all(exp.Alias)}
    derived = {
        table.alias_or_name.lower()
        for table in tree.find_all(exp.Table, exp.Unnest, exp.Lateral)
        if not isinstance(table, exp.Table) or table.name.lower() != "business_background_jobs"
    }
    unknown = set()
    for column in tree.find_all(exp.Column):
        name, qualifier = column.name.lower(), column.table.lower()
        if qualifier in derived or (not qualifier and name in aliases):
            continue
        if name not in COLUMNS:
            unknown.add(column.sql())
    return unknown


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery"])
def test_readme_queries_parse_and_read_the_jobs_table(dialect: str) -> None:
    queries = readme_queries(dialect)
    assert len(queries) >= 5
    for sql in queries:
        title = sql.strip().splitlines()[0]
        tree = sqlglot.parse_one(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
        assert isinstance(tree, exp.Select), title
        assert TABLES[dialect] in table_names(tree), title
        assert not unknown_columns(tree), f"{title}: {sorted(unknown_columns(tree))}"


def test_a_typo_is_caught() -> None:
    """The column check is not vacuous: a misspelt column in a valid query is reported."""
    sql = "SELECT statuss, COUNT(*) AS jobs FROM raw.nexudus.business_background_jobs GROUP BY 1"
    tree = sqlglot.parse_one(sql, read="snowflake")
    assert unknown_columns(tree) == {"statuss"}
