{#- One row per job: the newest version when the loader kept several (append-only loads,
    JSONL files loaded into a warehouse), renamed to snake_case and typed. -#}
{%- set col = nexudus_jobs.source_column -%}

with versions as (

    select
        cast({{ col('Id') }} as {{ dbt.type_bigint() }}) as job_id,
        cast({{ col('JobId') }} as {{ dbt.type_string() }}) as job_guid,
        cast({{ col('BusinessId') }} as {{ dbt.type_bigint() }}) as business_id,
        cast({{ col('BusinessName') }} as {{ dbt.type_string() }}) as business_name,
        cast({{ col('UserId') }} as {{ dbt.type_bigint() }}) as user_id,
        cast({{ col('UserFullName') }} as {{ dbt.type_string() }}) as user_full_name,
        cast({{ col('UserEmail') }} as {{ dbt.type_string() }}) as user_email,
        cast({{ col('Description') }} as {{ dbt.type_string() }}) as description,
        cast({{ col('Files') }} as {{ dbt.type_string() }}) as files,
        cast({{ col('Status') }} as {{ dbt.type_string() }}) as status,
        cast({{ col('ResultData') }} as {{ dbt.type_string() }}) as result_data,
        {{ col('ResultDataParsed') }} as result_data_parsed,
        cast({{ col('CreatedOn') }} as {{ dbt.type_timestamp() }}) as created_at,
        cast({{ col('UpdatedOn') }} as {{ dbt.type_timestamp() }}) as updated_at,
        cast({{ col('UniqueId') }} as {{ dbt.type_string() }}) as unique_id,
        cast({{ col('SystemId') }} as {{ dbt.type_string() }}) as system_id,
        cast({{ col('UpdatedBy') }} as {{ dbt.type_string() }}) as updated_by,
        {{ col('ExtraFields') }} as extra_fields
    from {{ source('nexudus', 'business_background_jobs') }}

),

ranked as (

    select
        versions.*,
        row_number() over (
            partition by job_id
            order by updated_at desc nulls last, result_data desc nulls last
        ) as version_rank
    from versions

),

newest as (

    select * from ranked where version_rank = 1

)

select
    job_id,
    job_guid,
    business_id,
    business_name,
    user_id,
    user_full_name,
    user_email,
    description,
    case
        when lower(description) like 'import%' then 'import'
        when lower(description) like 'export%' then 'export'
        when lower(description) like 'bulk edit%' then 'bulk_edit'
        when lower(description) like 'bulk delete%' then 'bulk_delete'
        else 'other'
    end as job_type,
    files,
    status,
    {{ nexudus_jobs.status_category('status') }} as status_category,
    created_at,
    updated_at,
    -- Nexudus has no finish time: a finished job's last change is when it ended.
    case
        when {{ nexudus_jobs.status_category('status') }} in ('succeeded', 'failed', 'cancelled')
            then updated_at
    end as finished_at,
    case
        when {{ nexudus_jobs.status_category('status') }} in ('succeeded', 'failed', 'cancelled')
            then {{ dbt.datediff('created_at', 'updated_at', 'second') }}
    end as duration_seconds,
    result_data,
    result_data_parsed,
    extra_fields,
    unique_id,
    system_id,
    updated_by
from newest
