
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