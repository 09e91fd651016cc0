
  
  create view "nexudus"."analytics"."stg_nexudus_jobs__dbt_tmp" as (
    with versions as (

    select
        cast(id as bigint) as job_id,
        cast(jobid as TEXT) as job_guid,
        cast(businessid as bigint) as business_id,
        cast(businessname as TEXT) as business_name,
        cast(userid as bigint) as user_id,
        cast(userfullname as TEXT) as user_full_name,
        cast(useremail as TEXT) as user_email,
        cast(description as TEXT) as description,
        cast(files as TEXT) as files,
        cast(status as TEXT) as status,
        cast(resultdata as TEXT) as result_data,
        resultdataparsed as result_data_parsed,
        cast(createdon as timestamp) as created_at,
        cast(updatedon as timestamp) as updated_at,
        cast(uniqueid as TEXT) as unique_id,
        cast(systemid as TEXT) as system_id,
        cast(updatedby as TEXT) as updated_by,
        extrafields as extra_fields
    from "nexudus"."nexudus"."business_background_jobs"

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
    case lower(trim(status))
    when 'queued' then 'pending'
    when 'pending' then 'pending'
    when 'scheduled' then 'pending'
    when 'waiting' then 'pending'
    when 'new' then 'pending'
    when 'running' then 'running'
    when 'processing' then 'running'
    when 'inprogress' then 'running'
    when 'in progress' then 'running'
    when 'started' then 'running'
    when 'completed' then 'succeeded'
    when 'succeeded' then 'succeeded'
    when 'success' then 'succeeded'
    when 'finished' then 'succeeded'
    when 'done' then 'succeeded'
    when 'failed' then 'failed'
    when 'error' then 'failed'
    when 'errored' then 'failed'
    when 'cancelled' then 'cancelled'
    when 'canceled' then 'cancelled'
    when 'aborted' then 'cancelled'
    else 'unknown'
  end as status_category,
    created_at,
    updated_at,
    -- Nexudus has no finish time: a finished job's last change is when it ended.
    case
        when case lower(trim(status))
    when 'queued' then 'pending'
    when 'pending' then 'pending'
    when 'scheduled' then 'pending'
    when 'waiting' then 'pending'
    when 'new' then 'pending'
    when 'running' then 'running'
    when 'processing' then 'running'
    when 'inprogress' then 'running'
    when 'in progress' then 'running'
    when 'started' then 'running'
    when 'completed' then 'succeeded'
    when 'succeeded' then 'succeeded'
    when 'success' then 'succeeded'
    when 'finished' then 'succeeded'
    when 'done' then 'succeeded'
    when 'failed' then 'failed'
    when 'error' then 'failed'
    when 'errored' then 'failed'
    when 'cancelled' then 'cancelled'
    when 'canceled' then 'cancelled'
    when 'aborted' then 'cancelled'
    else 'unknown'
  end in ('succeeded', 'failed', 'cancelled')
            then updated_at
    end as finished_at,
    case
        when case lower(trim(status))
    when 'queued' then 'pending'
    when 'pending' then 'pending'
    when 'scheduled' then 'pending'
    when 'waiting' then 'pending'
    when 'new' then 'pending'
    when 'running' then 'running'
    when 'processing' then 'running'
    when 'inprogress' then 'running'
    when 'in progress' then 'running'
    when 'started' then 'running'
    when 'completed' then 'succeeded'
    when 'succeeded' then 'succeeded'
    when 'success' then 'succeeded'
    when 'finished' then 'succeeded'
    when 'done' then 'succeeded'
    when 'failed' then 'failed'
    when 'error' then 'failed'
    when 'errored' then 'failed'
    when 'cancelled' then 'cancelled'
    when 'canceled' then 'cancelled'
    when 'aborted' then 'cancelled'
    else 'unknown'
  end in ('succeeded', 'failed', 'cancelled')
            then 
        (date_diff('second', created_at::timestamp, updated_at::timestamp ))
    
    end as duration_seconds,
    result_data,
    result_data_parsed,
    extra_fields,
    unique_id,
    system_id,
    updated_by
from newest
  );
