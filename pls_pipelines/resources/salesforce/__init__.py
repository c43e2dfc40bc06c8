"""The Salesforce connector: REST query/describe/sObject Collections and Bulk API 2.0, behind the CrmClient interface.

Object map: companies = Account, contacts = Contact, deals = Opportunity, owners = User. The pipeline's own fields
are custom fields named after the FieldSpec plus "__c" (pls_pqa_score -> pls_pqa_score__c). Salesforce cannot create
fields over REST, so `ensure_properties` checks them with describe and raises a ConfigError with the definitions an
admin has to create.

Writes: up to `bulk_threshold` records go through sObject Collections (PATCH composite/sobjects, 200 per call,
allOrNone=false, results in request order); more go through a Bulk API 2.0 update job whose result files come back
in any order, so outcomes are matched by the Id column. Row locks (UNABLE_TO_LOCK_ROW) get a bounded number of
second passes with just those records; a record merged into another (ENTITY_IS_DELETED with a MasterRecordId) is
written to the survivor. Salesforce answers an exhausted org limit with 403 REQUEST_LIMIT_EXCEEDED: that is retried
after a long wait (`limit_backoff`), and a throttle reading Sforce-Limit-Info slows down before the limit.

Creates (missing contacts, demo records) are upserts by a natural key (email, website domain, deal name within its
account): look up first, create only what is missing, and after a timeout look up again, so a create that the
server applied before the connection died is never sent twice.

Secrets: the access token lives in the HTTP session header only; the password and security token are kept only to
log in again when the session expires. None of them appears in an error message, a log line or a repr.

The package, one job a module: api (SalesforceApi: the session, login and SOQL queries), client (SalesforceCrm:
reads, the field check, updates, contact creates), writes (sObject Collections updates, creates by natural key),
bulk (Bulk API 2.0 update jobs), demo (load_demo), throttle (SalesforceThrottle and the retry policy), soql (SOQL
literals and IN-list chunks), values (canonical <-> Salesforce values) and records (Salesforce records ->
canonical rows).
"""

from pls_pipelines.resources.salesforce.client import SalesforceCrm
from pls_pipelines.resources.salesforce.throttle import SalesforceThrottle

__all__ = ["SalesforceCrm", "SalesforceThrottle"]
