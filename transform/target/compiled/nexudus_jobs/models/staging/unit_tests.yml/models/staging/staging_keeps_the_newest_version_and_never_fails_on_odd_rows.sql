with  __dbt__cte__nexudus__business_background_jobs as (

-- Fixture for business_background_jobs
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast('2026-01-01 10:00:00' as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('Import members from m.csv' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(1 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast('Running' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast('2026-01-01 10:00:30' as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast('2026-01-01 10:00:00' as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('Import members from m.csv' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(1 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast('Completed' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast('2026-01-01 10:02:05' as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast('2026-01-02 09:00:00' as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('Bulk edit 3 bookings' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(2 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast(' failed ' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast('2026-01-02 09:00:09' as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast(null as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('Export invoices' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(3 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast('Canceled' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast('2026-01-03 08:00:00' as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast('2026-01-04 08:00:00' as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('Something new' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(4 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast('Queued' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast(null as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast('2026-01-05 08:00:00' as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast(null as character varying(256))
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(5 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast('PartiallyDone' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast('2026-01-05 08:01:00' as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast(null as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('import products' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(6 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast(null as character varying(256))
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast(null as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
), versions as (

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
    from __dbt__cte__nexudus__business_background_jobs

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