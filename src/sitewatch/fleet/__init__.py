"""Many sites on many machines (``pip install "sitewatch[fleet]"``): Celery workers run the scheduler's jobs, one
PostgreSQL store holds every scan, and Redis holds the per-host politeness budget every worker shares.

Nothing here is imported by the single-process path (``sitewatch scan``, ``sitewatch schedule`` with the default
``executor = "local"``): without the extra installed, sitewatch works as before.
"""

EXTRA = 'pip install "sitewatch[fleet]"'       # what a command that needs the fleet says when it is missing
