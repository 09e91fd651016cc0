
    
    



select job_id
from "nexudus"."analytics"."nexudus_job_outcomes"
where job_id is null


