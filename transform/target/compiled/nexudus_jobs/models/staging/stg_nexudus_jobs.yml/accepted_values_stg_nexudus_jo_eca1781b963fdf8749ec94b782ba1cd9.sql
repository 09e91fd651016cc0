
    
    

with all_values as (

    select
        job_type as value_field,
        count(*) as n_records

    from "nexudus"."analytics"."stg_nexudus_jobs"
    group by job_type

)

select *
from all_values
where value_field not in (
    'import','export','bulk_edit','bulk_delete','other'
)


