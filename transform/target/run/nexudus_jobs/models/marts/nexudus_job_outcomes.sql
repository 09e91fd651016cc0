
    

    create  table
      "nexudus"."analytics"."nexudus_job_outcomes__dbt_tmp"
  
    
    as (
      with jobs as (

    select * from "nexudus"."analytics"."stg_nexudus_jobs"

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
    );
    
  