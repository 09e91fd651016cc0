
    
    

select
    job_id as unique_field,
    count(*) as n_records

from "nexudus"."analytics"."nexudus_import_failures"
where job_id is not null
group by job_id
having count(*) > 1


