{#- Which imports failed, when, by whom, and why: one row per failed import job. -#}

with jobs as (

    select * from {{ ref('stg_nexudus_jobs') }}
    where job_type = 'import' and status_category = 'failed'

),

outcomes as (

    select * from {{ ref('nexudus_job_outcomes') }}

)

select
    jobs.job_id,
    jobs.business_id,
    jobs.business_name,
    jobs.user_id,
    jobs.user_full_name,
    jobs.user_email,
    jobs.description,
    jobs.files,
    jobs.status,
    jobs.created_at,
    jobs.updated_at as failed_at,
    jobs.duration_seconds,
    outcomes.rows_processed,
    outcomes.rows_failed,
    -- The message when the JSON has one, else what Nexudus sent as it is; NULL when the
    -- job has no ResultData (include_result_data off, or not fetched yet).
    coalesce(outcomes.message, outcomes.result_data) as reason,
    coalesce(outcomes.result_data_format, 'none') as result_data_format
from jobs
left join outcomes on outcomes.job_id = jobs.job_id
