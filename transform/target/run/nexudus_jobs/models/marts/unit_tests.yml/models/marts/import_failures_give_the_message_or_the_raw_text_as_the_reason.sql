
    -- Build actual result given inputs
with dbt_internal_unit_test_actual as (
  select
    "job_id","user_full_name","files","rows_processed","rows_failed","reason","result_data_format", 'actual' as "actual_or_expected"
  from (
    with  __dbt__cte__stg_nexudus_jobs as (

-- Fixture for stg_nexudus_jobs
select 
    
    cast(1 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", 
    
    cast('Alice Morgan' as character varying)
 as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('import' as character varying)
 as "job_type", 
    
    cast('a.csv' as character varying)
 as "files", cast(null as character varying(256)) as "status", 
    
    cast('failed' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", cast(null as character varying(256)) as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(2 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", 
    
    cast('Ben Okafor' as character varying)
 as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('import' as character varying)
 as "job_type", 
    
    cast('b.csv' as character varying)
 as "files", cast(null as character varying(256)) as "status", 
    
    cast('failed' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", cast(null as character varying(256)) as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(3 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", 
    
    cast('Chloe Schmidt' as character varying)
 as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('import' as character varying)
 as "job_type", 
    
    cast('c.csv' as character varying)
 as "files", cast(null as character varying(256)) as "status", 
    
    cast('failed' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", cast(null as character varying(256)) as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(4 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", 
    
    cast('Dev Patel' as character varying)
 as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('import' as character varying)
 as "job_type", 
    
    cast('d.csv' as character varying)
 as "files", cast(null as character varying(256)) as "status", 
    
    cast('succeeded' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", cast(null as character varying(256)) as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(5 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", 
    
    cast('Ewa Nowak' as character varying)
 as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('bulk_edit' as character varying)
 as "job_type", 
    
    cast(null as character varying(256))
 as "files", cast(null as character varying(256)) as "status", 
    
    cast('failed' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", cast(null as character varying(256)) as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(6 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", 
    
    cast('Ewa Nowak' as character varying)
 as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('import' as character varying)
 as "job_type", 
    
    cast('e.csv' as character varying)
 as "files", cast(null as character varying(256)) as "status", 
    
    cast('failed' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", cast(null as character varying(256)) as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
),  __dbt__cte__nexudus_job_outcomes as (

-- Fixture for nexudus_job_outcomes
select 
    
    cast(1 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "status", cast(null as character varying(256)) as "status_category", cast(null as character varying(256)) as "job_type", 
    
    cast('json_object' as character varying)
 as "result_data_format", 
    
    cast(85 as BIGINT)
 as "rows_processed", 
    
    cast(55 as BIGINT)
 as "rows_failed", 
    
    cast('Booking overlaps' as character varying)
 as "message", 
    
    cast('{"message": "Booking overlaps"}' as character varying)
 as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as TIMESTAMP) as "reported_at"
union all
select 
    
    cast(2 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "status", cast(null as character varying(256)) as "status_category", cast(null as character varying(256)) as "job_type", 
    
    cast('text' as character varying)
 as "result_data_format", 
    
    cast(null as BIGINT)
 as "rows_processed", 
    
    cast(null as BIGINT)
 as "rows_failed", 
    
    cast(null as character varying(256))
 as "message", 
    
    cast('Timeout while processing file' as character varying)
 as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as TIMESTAMP) as "reported_at"
union all
select 
    
    cast(3 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "status", cast(null as character varying(256)) as "status_category", cast(null as character varying(256)) as "job_type", 
    
    cast('json_object' as character varying)
 as "result_data_format", 
    
    cast(null as BIGINT)
 as "rows_processed", 
    
    cast(null as BIGINT)
 as "rows_failed", 
    
    cast(null as character varying(256))
 as "message", 
    
    cast('{"code": 7}' as character varying)
 as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as TIMESTAMP) as "reported_at"
union all
select 
    
    cast(4 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "status", cast(null as character varying(256)) as "status_category", cast(null as character varying(256)) as "job_type", 
    
    cast('json_object' as character varying)
 as "result_data_format", 
    
    cast(9 as BIGINT)
 as "rows_processed", 
    
    cast(0 as BIGINT)
 as "rows_failed", 
    
    cast(null as character varying(256))
 as "message", 
    
    cast('{"processed": 9}' as character varying)
 as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as TIMESTAMP) as "reported_at"
union all
select 
    
    cast(5 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "status", cast(null as character varying(256)) as "status_category", cast(null as character varying(256)) as "job_type", 
    
    cast('text' as character varying)
 as "result_data_format", 
    
    cast(null as BIGINT)
 as "rows_processed", 
    
    cast(null as BIGINT)
 as "rows_failed", 
    
    cast(null as character varying(256))
 as "message", 
    
    cast('Oops' as character varying)
 as "result_data", cast(null as JSON) as "result_data_parsed", cast(null as TIMESTAMP) as "reported_at"
), jobs as (

    select * from __dbt__cte__stg_nexudus_jobs
    where job_type = 'import' and status_category = 'failed'

),

outcomes as (

    select * from __dbt__cte__nexudus_job_outcomes

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
  ) _dbt_internal_unit_test_actual
),
-- Build expected result
dbt_internal_unit_test_expected as (
  select
    "job_id", "user_full_name", "files", "rows_processed", "rows_failed", "reason", "result_data_format", 'expected' as "actual_or_expected"
  from (
    select 
    
    cast(1 as BIGINT)
 as "job_id", 
    
    cast('Alice Morgan' as character varying)
 as "user_full_name", 
    
    cast('a.csv' as character varying)
 as "files", 
    
    cast(85 as BIGINT)
 as "rows_processed", 
    
    cast(55 as BIGINT)
 as "rows_failed", 
    
    cast('Booking overlaps' as character varying)
 as "reason", 
    
    cast('json_object' as character varying)
 as "result_data_format"
union all
select 
    
    cast(2 as BIGINT)
 as "job_id", 
    
    cast('Ben Okafor' as character varying)
 as "user_full_name", 
    
    cast('b.csv' as character varying)
 as "files", 
    
    cast(null as BIGINT)
 as "rows_processed", 
    
    cast(null as BIGINT)
 as "rows_failed", 
    
    cast('Timeout while processing file' as character varying)
 as "reason", 
    
    cast('text' as character varying)
 as "result_data_format"
union all
select 
    
    cast(3 as BIGINT)
 as "job_id", 
    
    cast('Chloe Schmidt' as character varying)
 as "user_full_name", 
    
    cast('c.csv' as character varying)
 as "files", 
    
    cast(null as BIGINT)
 as "rows_processed", 
    
    cast(null as BIGINT)
 as "rows_failed", 
    
    cast('{"code": 7}' as character varying)
 as "reason", 
    
    cast('json_object' as character varying)
 as "result_data_format"
union all
select 
    
    cast(6 as BIGINT)
 as "job_id", 
    
    cast('Ewa Nowak' as character varying)
 as "user_full_name", 
    
    cast('e.csv' as character varying)
 as "files", 
    
    cast(null as BIGINT)
 as "rows_processed", 
    
    cast(null as BIGINT)
 as "rows_failed", 
    
    cast(null as character varying(256))
 as "reason", 
    
    cast('none' as character varying)
 as "result_data_format"
  ) _dbt_internal_unit_test_expected
)
-- Union actual and expected results
select * from dbt_internal_unit_test_actual
union all
select * from dbt_internal_unit_test_expected