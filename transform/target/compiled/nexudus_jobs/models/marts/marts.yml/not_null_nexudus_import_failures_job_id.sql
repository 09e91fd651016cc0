
    
    



select job_id
from "nexudus"."analytics"."nexudus_import_failures"
where job_id is null


