{#- pending / running / succeeded / failed / cancelled for the statuses in the
    nexudus_jobs_statuses var (case and surrounding spaces ignored); `unknown` for any
    other status, NULL included, so a new status never fails a build. -#}
{% macro status_category(column) -%}
  case lower(trim({{ column }}))
  {%- for category, statuses in var('nexudus_jobs_statuses').items() %}
    {%- for status in statuses %}
    when '{{ status | lower }}' then '{{ category }}'
    {%- endfor %}
  {%- endfor %}
    else 'unknown'
  end
{%- endmacro %}

{#- The categories, for accepted_values tests. -#}
{% macro status_categories() %}
  {{- return(var('nexudus_jobs_statuses').keys() | list) -}}
{% endmacro %}
