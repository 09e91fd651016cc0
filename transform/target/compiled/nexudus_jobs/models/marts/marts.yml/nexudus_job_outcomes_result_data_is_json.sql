
    
    

with all_values as (

    select
        result_data_format as value_field,
        count(*) as n_records

    from "nexudus"."analytics"."nexudus_job_outcomes"
    group by result_data_format

)

select *
from all_values
where value_field not in (
    'json_object','json_array','none'
)


