
    
    



select updated_at
from "nexudus"."analytics"."stg_nexudus_jobs"
where updated_at is null


