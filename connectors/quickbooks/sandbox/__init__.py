"""A local QuickBooks Online: the v3 Accounting API subset Partida uses, over real HTTP.

Start it::

    partida sandbox quickbooks [--port N] [--state FILE] [--faults SEED:PLAN]
    # or: python -c 'from connectors.quickbooks.sandbox import main; main(8766)'

It prints one line, its base URL (``http://127.0.0.1:8766``), and listens on
127.0.0.1 only. In tests, ``connectors.sandbox.server.running(create_app())``
runs it in a thread on a free port. A new state holds one Québec company
(edition ``CA-QC``, CAD); ``GET /sandbox/companies`` gives its ``realmId``.

**Companies.** ``POST /sandbox/companies {"edition": "CA-QC"|"US"|"FR",
"name"?, "realm_id"?}`` -> ``{"realmId", "accounts": {key: Id},
"tax_codes": {key: Id}, "tax_rates": {key: Id}}`` (keys such as ``ar``,
``uf``, ``bank``, ``sales``, ``services``, ``gst_qst``; see ``company``).

**Tokens, the short way.** ``POST /sandbox/companies/{realmId}/tokens``
(optional ``{"scope": "..."}``) runs the real code flow for a new client and
returns ``{"access_token", "refresh_token", "expires_in": 3600,
"x_refresh_token_expires_in", "token_type": "bearer", "realmId",
"client_id", "client_secret"}``.

**OAuth 2.0, Intuit's way** (PKCE optional, as at Intuit)::

    POST <base>/sandbox/oauth_clients {"redirect_uris": ["http://127.0.0.1:9999/cb"]}
      -> {"client_id", "client_secret", "redirect_uris"}
    GET  <base>/connect/oauth2?client_id=..&redirect_uri=..&response_type=code
         &scope=com.intuit.quickbooks.accounting&state=..[&realm_id=..][&auto_approve=1]
      -> consent page, or 302 to redirect_uri?code=..&state=..&realmId=..
    POST <base>/oauth2/v1/tokens/bearer  (HTTP Basic client auth, form body)
         grant_type=authorization_code&code=..&redirect_uri=..
      -> {"token_type": "bearer", "access_token", "expires_in": 3600,
          "refresh_token", "x_refresh_token_expires_in": 8726400}
    POST <base>/oauth2/v1/tokens/bearer  grant_type=refresh_token&refresh_token=..
      -> a new pair; the refresh token used is dead from then on (400
         {"error": "invalid_grant"} when presented again); the old access
         token lives until its hour is up
    POST <base>/v2/oauth2/tokens/revoke  {"token": ".."} (JSON or form, Basic auth) -> 200

``realm_id`` on the authorize URL picks the company (default: the first
one). ``GET /.well-known/openid_configuration`` lists the endpoints.

**API** under ``/v3/company/{realmId}/``: Customer, Item, Account (read,
create, update), TaxCode, TaxRate, TaxAgency (read-only), Invoice,
CreditMemo, RefundReceipt, Payment, JournalEntry, Deposit (also delete, and
void for Invoice and Payment); ``query``; ``batch``;
``reports/TrialBalance``; ``companyinfo/{realmId}``; ``preferences``.
Rules, computations and limits are documented in the modules: ``sales``
(tax line by line), ``payments``, ``journal``, ``names``, ``ledger``
(postings, TrialBalance), ``query``, ``batch``, ``api`` (requestid),
``context`` (auth, 500 requests/min and 10 in flight per company),
``errors`` (Fault bodies and codes).

**Sandbox-only endpoints** (no token, never rate limited nor faulted):

- ``GET /sandbox/state``: per company, counts per entity, DocNumber /
  PrivateNote / PaymentRefNum counts and duplicates, requests in flight;
  request, throttle, requestid-replay and fault counters; settings;
- ``GET|POST /sandbox/companies``, ``POST /sandbox/companies/{realm}/tokens``,
  ``PATCH /sandbox/companies/{realm}/preferences``
  (``warn_duplicate_doc_number``, ``fiscal_year_start_month``);
- ``POST /sandbox/oauth_clients``; ``POST /sandbox/oauth/expire_access_tokens``;
- ``PUT /sandbox/faults {"plan": "SEED:PLAN" or null}``; ``POST /sandbox/reset``
  (every company starts over, credentials stay);
- tampering behind the client's back: ``POST /sandbox/companies/{realm}/{entity}``
  (a document the client does not know, API body),
  ``DELETE /sandbox/companies/{realm}/{entity}/{Id}`` (delete an invoice, drop a
  journal entry...), ``PATCH /sandbox/companies/{realm}/{entity}/{Id}``
  (``Amount`` [+ ``LineNum``] of a sales line, ``TotalAmt`` of a payment,
  ``TxnDate``, ``DocNumber``, ``PrivateNote``),
  ``POST /sandbox/companies/{realm}/invoice/{Id}/mark_paid`` (a payment of the
  whole balance, ``{"TxnDate"}`` optional).
"""

from connectors.quickbooks.sandbox.app import AUTHORIZE_PATH
from connectors.quickbooks.sandbox.app import DEFAULT_BATCH_RATE_LIMIT
from connectors.quickbooks.sandbox.app import DEFAULT_RATE_LIMIT
from connectors.quickbooks.sandbox.app import REVOKE_PATH
from connectors.quickbooks.sandbox.app import TOKEN_PATH
from connectors.quickbooks.sandbox.app import create_app
from connectors.quickbooks.sandbox.app import main
from connectors.quickbooks.sandbox.context import SCOPES

__all__ = [
    "AUTHORIZE_PATH",
    "DEFAULT_BATCH_RATE_LIMIT",
    "DEFAULT_RATE_LIMIT",
    "REVOKE_PATH",
    "SCOPES",
    "TOKEN_PATH",
    "create_app",
    "main",
]
