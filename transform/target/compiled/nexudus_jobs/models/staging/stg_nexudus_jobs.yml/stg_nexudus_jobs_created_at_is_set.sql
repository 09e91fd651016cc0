
    
    



select created_at
from "nexudus"."analytics"."stg_nexudus_jobs"
where created_at is null


