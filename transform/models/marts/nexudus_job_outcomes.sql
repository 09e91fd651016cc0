{#- What each job reported in ResultData, one row per job that reported anything. The
    format is undocumented: counts and the message are read where the JSON has them and
    are NULL where it does not; the raw text is always kept. -#}
{%- set parsed = 'jobs.result_data_parsed' -%}

with jobs as (

    select * from {{ ref('stg_nexudus_jobs') }}

),

classified as (

    select
        jobs.*,
        {{ nexudus_jobs.json_kind(parsed) }} as result_json_kind
    from jobs

)

select
    job_id,
    status,
    status_category,
    job_type,
    case
        when result_json_kind = 'object' then 'json_object'
        when result_json_kind = 'array' then 'json_array'
        when trim(result_data) <> '' then 'text'
        else 'none'
    end as result_data_format,
    case when result_json_kind = 'object'
        then {{ nexudus_jobs.json_integer('result_data_parsed', 'processed') }} end
        as rows_processed,
    case when result_json_kind = 'object'
        then {{ nexudus_jobs.json_integer('result_data_parsed', 'errors') }} end
        as rows_failed,
    case when result_json_kind = 'object'
        then {{ nexudus_jobs.json_string('result_data_parsed', 'message') }} end
        as message,
    result_data,
    result_data_parsed,
    updated_at as reported_at
from classified
where trim(result_data) <> '' or result_json_kind is not null
