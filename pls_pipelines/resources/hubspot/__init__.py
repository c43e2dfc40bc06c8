"""The HubSpot connector: CRM v3 objects, properties and owners, v4 associations, through the shared HTTP layer.

Reads page with `after` (100 records a page, properties listed explicitly; contacts and deals ask for their
company associations). Writes are batch updates by record id (100 inputs a call, an objectWriteTraceId on each
so HubSpot answers 207 with per-record errors instead of failing the batch) and upserts by email for contacts,
so a call that timed out after HubSpot applied it can be sent again without duplicating anything.

What HubSpot answers is checked record by record: an id missing from a batch's results is not a success (a
merged-away record is left out silently - the write is then sent to the record it was merged into and
reported with merged_into); a batch rejected as a whole (400) is split in halves until the bad records stand
alone, so one bad value never fails its 99 neighbours.

Rate limits: the client-side throttle (HubSpotThrottle) keeps a rolling window of the ten-secondly burst limit
(190 requests / 10 s by default) and learns the account's real budget from the X-HubSpot-RateLimit-* headers,
so a large sync runs at the limit without bouncing off 429s; 429s and 5xx are still retried by crm_http,
honouring Retry-After or, without it, waiting for the window (TEN_SECONDLY_ROLLING) or a second (SECONDLY).

The access token lives in the HTTP session only: it is never logged, never stored on this object and never
put into an error message.

The package, one job a module: api (HubSpotApi: the session, the throttle and retry policy, and the batch, paging
and association calls everything is built from), client (HubSpotCrm: reads, updates, contact creates),
properties (ensure_properties), demo (load_demo), throttle (HubSpotThrottle), responses (what HubSpot's answers
and per-record errors mean), values (canonical <-> HubSpot value formats) and records (HubSpot records ->
canonical rows).
"""

from pls_pipelines.resources.hubspot.client import HubSpotCrm
from pls_pipelines.resources.hubspot.throttle import HubSpotThrottle

__all__ = ["HubSpotCrm", "HubSpotThrottle"]
