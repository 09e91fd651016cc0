
    
    

with all_values as (

    select
        status_category as value_field,
        count(*) as n_records

    from "nexudus"."analytics"."stg_nexudus_jobs"
    group by status_category

)

select *
from all_values
where value_field not in (
    'pending','running','succeeded','failed','cancelled','unknown'
)


