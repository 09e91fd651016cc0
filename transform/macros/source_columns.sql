{#- A column of the loaded table, spelled as the loader wrote it. The tap names columns
    in CamelCase (UpdatedOn); target-duckdb lower-cases them, target-postgres keeps the
    case (so they must be quoted there), other loaders follow their warehouse's rules. -#}
{% macro source_column(name) %}
  {%- set style = var('nexudus_jobs_column_names', none) -%}
  {%- if style == 'quoted' -%}{{ return(adapter.quote(name)) }}
  {%- elif style == 'lower' -%}{{ return(name | lower) }}
  {%- elif style == 'upper' -%}{{ return(name | upper) }}
  {%- elif style is not none -%}
    {{ exceptions.raise_compiler_error(
        "var nexudus_jobs_column_names must be quoted, lower or upper, not '" ~ style ~ "'") }}
  {%- endif -%}
  {{ return(adapter.dispatch('source_column', 'nexudus_jobs')(name)) }}
{% endmacro %}

{% macro default__source_column(name) %}{{ return(name) }}{% endmacro %}

{% macro duckdb__source_column(name) %}{{ return(name | lower) }}{% endmacro %}

{% macro postgres__source_column(name) %}{{ return(adapter.quote(name)) }}{% endmacro %}
