"""`python -m tap_nexudus_jobs` runs the tap."""

from tap_nexudus_jobs.cli import main

main()
