"""Is a page that arrived in cleartext the site's page? The independent views of one round.

Pure logic over the round's fetches (probe/steps.py calls it for every plain-HTTP GET): the
comparison itself is probe/pagediff.py (OONI ts-017), which the OONI importer runs directly
against its test helper's page (collector/ooni/httpt.py).
"""

from __future__ import annotations

from probe import http, pagediff
from probe.evidence import ControlResult


def compare_cleartext(
    https_page: http.Fetch | None, control: ControlResult | None, fetched: http.Fetch
) -> tuple[str, bool, pagediff.PageDiff] | None:
    """OONI ts-017's HTTP comparison, for a page that arrived in cleartext only.

    A page that ended over validated TLS is the site's own (a challenge or geo page included);
    a cleartext page is compared with the independent views this round has: the same site over
    validated HTTPS from this vantage, and the control endpoint's GETs (the target URL and its
    http:// page). It differs only when it differs from every view. Gives (references, differs,
    the closest comparison) or None.
    """
    if not (fetched.final_url or fetched.url).startswith("http:"):
        return None
    references: dict[str, pagediff.Page] = {}
    if https_page is not None:
        references["https"] = http.page_of(https_page)
    if control is not None and control.reachable:
        references["control"] = control.page("http")
    if control is not None and control.plain_status is not None:
        references["control-http"] = control.page("plain")
    if not references:
        return None
    ours = http.page_of(fetched)
    diffs = {name: pagediff.compare(ours, page) for name, page in references.items()}
    closest = min(diffs.values(), key=lambda d: d.differs)
    return "+".join(diffs), all(d.differs for d in diffs.values()), closest
