"""Per-page checks fed by the crawler: interaction, services, serious problems, site identity.

Each check keeps only small facts per page and turns them into findings at the end of the scan;
``sitewatch.checks_pages.PageChecks`` runs them all.
"""
