"""The rules: one module per rule family, each holding all the code of its rules; the numbers, deadlines and
keywords are in the packs (``checks/*.toml``, loaded by ``sitewatch.packs``).

===================  ==========================================================================  =====
module               rule ids                                                                    stage
===================  ==========================================================================  =====
``links``            link.broken                                                                 site
``availability``     availability.unreachable, scan.no_pages; availability.down                  site; probes
``columns``          homepage.stale, column.stale/long_stale/blank, veto.columns_*               site
``disclosures``      disclosure.missing, disclosure.late (mandated items, policy interpretations) site
``interaction``      interaction.no_channel, interaction.unanswered, interaction.slow_reply      page
``services``         service.none, service.guide_incomplete, veto.service_guides                 page
``security``         security.misstatement (reads misstatement.*), security.hidden_link,         page
                     security.duplicate_content
``identity``         identity.mark_missing/meta_missing/inconsistent/domain/https/mixed_content  page
===================  ==========================================================================  =====

Each check registers itself once (``registry.page_check``, ``site_check``, ``probe_check``) under the rule ids
it produces; importing this package imports every family, so the registry is complete. ``_page`` holds the
per-page machinery (``PageView``, ``Examples``, ``PageCheck``, the ``PageChecks`` runner the crawler feeds),
``_site`` what a site check reads (``SiteData``).
"""

from sitewatch.rules import (  # noqa: F401 - imported to register their checks
    availability,
    columns,
    disclosures,
    identity,
    interaction,
    links,
    security,
    services,
)
from sitewatch.rules._page import PageChecks
from sitewatch.rules._site import SiteData
from sitewatch.rules.registry import PAGE, PROBES, SITE, checks, owner, produced_ids

__all__ = ["PAGE", "PROBES", "SITE", "PageChecks", "SiteData", "checks", "owner", "produced_ids"]
