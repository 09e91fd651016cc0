
-- Fixture for business_background_jobs
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast('2026-01-01 10:00:00' as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('Import members from m.csv' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(1 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast('Running' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast('2026-01-01 10:00:30' as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast('2026-01-01 10:00:00' as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('Import members from m.csv' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(1 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast('Completed' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast('2026-01-01 10:02:05' as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast('2026-01-02 09:00:00' as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('Bulk edit 3 bookings' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(2 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast(' failed ' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast('2026-01-02 09:00:09' as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast(null as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('Export invoices' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(3 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast('Canceled' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast('2026-01-03 08:00:00' as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast('2026-01-04 08:00:00' as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('Something new' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(4 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast('Queued' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast(null as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast('2026-01-05 08:00:00' as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast(null as character varying(256))
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(5 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast('PartiallyDone' as character varying)
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast('2026-01-05 08:01:00' as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"
union all
select cast(null as HUGEINT) as "businessid", cast(null as character varying(256)) as "businessname", 
    
    cast(null as TIMESTAMP)
 as "createdon", cast(null as JSON) as "customfields", 
    
    cast('import products' as character varying)
 as "description", cast(null as JSON) as "extrafields", cast(null as character varying(256)) as "files", 
    
    cast(6 as HUGEINT)
 as "id", cast(null as BOOLEAN) as "isnew", cast(null as character varying(256)) as "jobid", cast(null as JSON) as "localizationdetails", cast(null as character varying(256)) as "resultdata", cast(null as JSON) as "resultdataparsed", 
    
    cast(null as character varying(256))
 as "status", cast(null as character varying(256)) as "systemid", cast(null as character varying(256)) as "tostringtext", cast(null as character varying(256)) as "uniqueid", cast(null as character varying(256)) as "updatedby", 
    
    cast(null as TIMESTAMP)
 as "updatedon", cast(null as character varying(256)) as "useremail", cast(null as character varying(256)) as "userfullname", cast(null as HUGEINT) as "userid", cast(null as TIMESTAMP) as "_sdc_batched_at", cast(null as character varying(256)) as "_sdc_deleted_at", cast(null as TIMESTAMP) as "_sdc_extracted_at"