{#- JSON access that never fails on a shape it does not expect: a key that is missing,
    of another type, or a document that is not an object all give NULL. One model text
    for DuckDB (JSON), PostgreSQL (jsonb), BigQuery (JSON) and Snowflake (VARIANT). -#}

{#- 'object', 'array', or NULL for anything else (JSON null, scalars, SQL NULL). -#}
{% macro json_kind(column) %}
  {{- return(adapter.dispatch('json_kind', 'nexudus_jobs')(column)) -}}
{% endmacro %}

{% macro duckdb__json_kind(column) -%}
  case json_type({{ column }}) when 'OBJECT' then 'object' when 'ARRAY' then 'array' end
{%- endmacro %}

{% macro postgres__json_kind(column) -%}
  case jsonb_typeof(({{ column }})::jsonb) when 'object' then 'object' when 'array' then 'array' end
{%- endmacro %}

{% macro bigquery__json_kind(column) -%}
  case json_type({{ column }}) when 'object' then 'object' when 'array' then 'array' end
{%- endmacro %}

{% macro snowflake__json_kind(column) -%}
  case when is_object({{ column }}) then 'object' when is_array({{ column }}) then 'array' end
{%- endmacro %}

{#- The value at a top-level key when it is a JSON string, else NULL. -#}
{% macro json_string(column, key) %}
  {{- return(adapter.dispatch('json_string', 'nexudus_jobs')(column, key)) -}}
{% endmacro %}

{% macro duckdb__json_string(column, key) -%}
  case when json_type({{ column }}, '$."{{ key }}"') = 'VARCHAR'
    then json_extract_string({{ column }}, '$."{{ key }}"') end
{%- endmacro %}

{% macro postgres__json_string(column, key) -%}
  case when jsonb_typeof(({{ column }})::jsonb -> '{{ key }}') = 'string'
    then ({{ column }})::jsonb ->> '{{ key }}' end
{%- endmacro %}

{% macro bigquery__json_string(column, key) -%}
  case when json_type(json_query({{ column }}, '$."{{ key }}"')) = 'string'
    then json_value({{ column }}, '$."{{ key }}"') end
{%- endmacro %}

{% macro snowflake__json_string(column, key) -%}
  as_varchar(get({{ column }}, '{{ key }}'))
{%- endmacro %}

{#- The value at a top-level key when it is a whole JSON number that fits a bigint, else
    NULL (a count sent as "12", 12.5 or an object is not a count). -#}
{% macro json_integer(column, key) %}
  {{- return(adapter.dispatch('json_integer', 'nexudus_jobs')(column, key)) -}}
{% endmacro %}

{% macro duckdb__json_integer(column, key) -%}
  case when json_type({{ column }}, '$."{{ key }}"') in ('BIGINT', 'UBIGINT')
    then try_cast(json_extract_string({{ column }}, '$."{{ key }}"') as bigint) end
{%- endmacro %}

{% macro postgres__json_integer(column, key) -%}
  case when jsonb_typeof(({{ column }})::jsonb -> '{{ key }}') = 'number'
    and (({{ column }})::jsonb ->> '{{ key }}') ~ '^-?[0-9]{1,18}$'
    then (({{ column }})::jsonb ->> '{{ key }}')::bigint end
{%- endmacro %}

{% macro bigquery__json_integer(column, key) -%}
  case when json_type(json_query({{ column }}, '$."{{ key }}"')) = 'number'
    then safe_cast(json_value({{ column }}, '$."{{ key }}"') as int64) end
{%- endmacro %}

{% macro snowflake__json_integer(column, key) -%}
  as_integer(get({{ column }}, '{{ key }}'))
{%- endmacro %}
