
    
    



select job_id
from "nexudus"."analytics"."stg_nexudus_jobs"
where job_id is null


