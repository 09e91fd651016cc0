
    -- Build actual result given inputs
with dbt_internal_unit_test_actual as (
  select
    "job_id","result_data_format","rows_processed","rows_failed","message", 'actual' as "actual_or_expected"
  from (
    with  __dbt__cte__stg_nexudus_jobs as (

-- Fixture for stg_nexudus_jobs
select 
    
    cast(1 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", cast(null as character varying(256)) as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('import' as character varying)
 as "job_type", cast(null as character varying(256)) as "files", 
    
    cast('Failed' as character varying)
 as "status", 
    
    cast('failed' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", 
    
    cast('{"processed": 85, "errors": 55, "message": "Booking overlaps"}' as character varying)
 as "result_data", 
    
    cast('{"processed": 85, "errors": 55, "message": "Booking overlaps"}' as JSON)
 as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(2 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", cast(null as character varying(256)) as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('import' as character varying)
 as "job_type", cast(null as character varying(256)) as "files", 
    
    cast('Completed' as character varying)
 as "status", 
    
    cast('succeeded' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", 
    
    cast('{"processed": 40, "errors": 0}' as character varying)
 as "result_data", 
    
    cast('{"processed": 40, "errors": 0}' as JSON)
 as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(3 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", cast(null as character varying(256)) as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('import' as character varying)
 as "job_type", cast(null as character varying(256)) as "files", 
    
    cast('Failed' as character varying)
 as "status", 
    
    cast('failed' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", 
    
    cast('The import file could not be read.' as character varying)
 as "result_data", 
    
    cast(null as JSON)
 as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(4 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", cast(null as character varying(256)) as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('other' as character varying)
 as "job_type", cast(null as character varying(256)) as "files", 
    
    cast('Failed' as character varying)
 as "status", 
    
    cast('failed' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", 
    
    cast('["row 1", "row 2"]' as character varying)
 as "result_data", 
    
    cast('["row 1", "row 2"]' as JSON)
 as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(5 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", cast(null as character varying(256)) as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('other' as character varying)
 as "job_type", cast(null as character varying(256)) as "files", 
    
    cast('Completed' as character varying)
 as "status", 
    
    cast('succeeded' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", 
    
    cast('{"processed": "12", "errors": 1.5, "message": {"text": "nested"}}' as character varying)
 as "result_data", 
    
    cast('{"processed": "12", "errors": 1.5, "message": {"text": "nested"}}' as JSON)
 as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(6 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", cast(null as character varying(256)) as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('import' as character varying)
 as "job_type", cast(null as character varying(256)) as "files", 
    
    cast('Queued' as character varying)
 as "status", 
    
    cast('pending' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", 
    
    cast(null as character varying(256))
 as "result_data", 
    
    cast(null as JSON)
 as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(7 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", cast(null as character varying(256)) as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('import' as character varying)
 as "job_type", cast(null as character varying(256)) as "files", 
    
    cast('Running' as character varying)
 as "status", 
    
    cast('running' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", 
    
    cast('   ' as character varying)
 as "result_data", 
    
    cast(null as JSON)
 as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
union all
select 
    
    cast(8 as BIGINT)
 as "job_id", cast(null as character varying(256)) as "job_guid", cast(null as BIGINT) as "business_id", cast(null as character varying(256)) as "business_name", cast(null as BIGINT) as "user_id", cast(null as character varying(256)) as "user_full_name", cast(null as character varying(256)) as "user_email", cast(null as character varying(256)) as "description", 
    
    cast('other' as character varying)
 as "job_type", cast(null as character varying(256)) as "files", 
    
    cast('Odd' as character varying)
 as "status", 
    
    cast('unknown' as character varying)
 as "status_category", cast(null as TIMESTAMP) as "created_at", cast(null as TIMESTAMP) as "updated_at", cast(null as TIMESTAMP) as "finished_at", cast(null as BIGINT) as "duration_seconds", 
    
    cast('{"errors": -3, "processed": 99999999999}' as character varying)
 as "result_data", 
    
    cast('{"errors": -3, "processed": 99999999999}' as JSON)
 as "result_data_parsed", cast(null as JSON) as "extra_fields", cast(null as character varying(256)) as "unique_id", cast(null as character varying(256)) as "system_id", cast(null as character varying(256)) as "updated_by"
), jobs as (

    select * from __dbt__cte__stg_nexudus_jobs

),

classified as (

    select
        jobs.*,
        case json_type(jobs.result_data_parsed) when 'OBJECT' then 'object' when 'ARRAY' then 'array' end as result_json_kind
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
        then case when json_type(result_data_parsed, '$."processed"') in ('BIGINT', 'UBIGINT')
    then try_cast(json_extract_string(result_data_parsed, '$."processed"') as bigint) end end
        as rows_processed,
    case when result_json_kind = 'object'
        then case when json_type(result_data_parsed, '$."errors"') in ('BIGINT', 'UBIGINT')
    then try_cast(json_extract_string(result_data_parsed, '$."errors"') as bigint) end end
        as rows_failed,
    case when result_json_kind = 'object'
        then case when json_type(result_data_parsed, '$."message"') = 'VARCHAR'
    then json_extract_string(result_data_parsed, '$."message"') end end
        as message,
    result_data,
    result_data_parsed,
    updated_at as reported_at
from classified
where trim(result_data) <> '' or result_json_kind is not null
  ) _dbt_internal_unit_test_actual
),
-- Build expected result
dbt_internal_unit_test_expected as (
  select
    "job_id", "result_data_format", "rows_processed", "rows_failed", "message", 'expected' as "actual_or_expected"
  from (
    select 
    
    cast(1 as BIGINT)
 as "job_id", 
    
    cast('json_object' as character varying)
 as "result_data_format", 
    
    cast(85 as BIGINT)
 as "rows_processed", 
    
    cast(55 as BIGINT)
 as "rows_failed", 
    
    cast('Booking overlaps' as character varying)
 as "message"
union all
select 
    
    cast(2 as BIGINT)
 as "job_id", 
    
    cast('json_object' as character varying)
 as "result_data_format", 
    
    cast(40 as BIGINT)
 as "rows_processed", 
    
    cast(0 as BIGINT)
 as "rows_failed", 
    
    cast(null as character varying(256))
 as "message"
union all
select 
    
    cast(3 as BIGINT)
 as "job_id", 
    
    cast('text' as character varying)
 as "result_data_format", 
    
    cast(null as BIGINT)
 as "rows_processed", 
    
    cast(null as BIGINT)
 as "rows_failed", 
    
    cast(null as character varying(256))
 as "message"
union all
select 
    
    cast(4 as BIGINT)
 as "job_id", 
    
    cast('json_array' as character varying)
 as "result_data_format", 
    
    cast(null as BIGINT)
 as "rows_processed", 
    
    cast(null as BIGINT)
 as "rows_failed", 
    
    cast(null as character varying(256))
 as "message"
union all
select 
    
    cast(5 as BIGINT)
 as "job_id", 
    
    cast('json_object' as character varying)
 as "result_data_format", 
    
    cast(null as BIGINT)
 as "rows_processed", 
    
    cast(null as BIGINT)
 as "rows_failed", 
    
    cast(null as character varying(256))
 as "message"
union all
select 
    
    cast(8 as BIGINT)
 as "job_id", 
    
    cast('json_object' as character varying)
 as "result_data_format", 
    
    cast(99999999999 as BIGINT)
 as "rows_processed", 
    
    cast(-3 as BIGINT)
 as "rows_failed", 
    
    cast(null as character varying(256))
 as "message"
  ) _dbt_internal_unit_test_expected
)
-- Union actual and expected results
select * from dbt_internal_unit_test_actual
union all
select * from dbt_internal_unit_test_expected