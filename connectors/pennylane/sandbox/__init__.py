"""A local Pennylane: the Company API v2 subset Partida uses, over real HTTP.

Start it::

    partida sandbox pennylane [--port N] [--state FILE] [--faults SEED:PLAN]
    # or: python -c 'from connectors.pennylane.sandbox import main; main(8765)'

It prints one line, its base URL (``http://127.0.0.1:8765``); the API is under
``<base>/api/external/v2``, OAuth under ``<base>/oauth/``. It listens on
127.0.0.1 only. In tests, ``connectors.sandbox.server.running(create_app())``
runs it in a thread on a free port.

**Company API token.** The sandbox starts with none::

    curl -X POST <base>/sandbox/company_tokens -d '{}'
    -> {"token": "<random>", "scopes": [every scope]}
    curl -X POST <base>/sandbox/company_tokens \\
         -d '{"token": "my-dev-token-0123456789", "scopes": ["customers:readonly"]}'

Tokens are kept (as digests) in the state file, so a token made once works
after a restart. Use it as ``Authorization: Bearer <token>``.

**OAuth 2.0.** Register a client, then run the authorization code flow with
PKCE S256 (required; ``create_app(require_pkce=False)`` relaxes it)::

    POST <base>/sandbox/oauth_clients {"redirect_uris": ["http://127.0.0.1:9999/cb"]}
      -> {"client_id", "client_secret", "redirect_uris"}
    GET  <base>/oauth/authorize?client_id=..&redirect_uri=..&response_type=code
         &scope=customer_invoices:all+ledger_entries:all&state=..
         &code_challenge=<S256>&code_challenge_method=S256[&auto_approve=1]
      -> a consent page (Approve / Deny), or with auto_approve=1 a 302 to
         redirect_uri?code=..&state=..
    POST <base>/oauth/token  grant_type=authorization_code, code, redirect_uri,
         code_verifier, client_id + client_secret (form or HTTP Basic)
      -> {"access_token", "token_type": "Bearer", "expires_in": 86400,
          "refresh_token", "scope", "created_at"}
    POST <base>/oauth/token  grant_type=refresh_token, refresh_token, client auth
      -> a new pair; the old pair dies; reusing the old refresh token gives
         400 {"error": "invalid_grant"}
    POST <base>/oauth/revoke token=.., client auth -> 200 (the pair dies)

**Sandbox-only endpoints** (no token, never rate limited nor faulted):

- ``GET /sandbox/state``: counts per document kind; external references and
  piece numbers with their counts; duplicates; paid invoices; request and
  fault counters; settings;
- ``POST /sandbox/company_tokens`` ``{token?, scopes?, label?}`` -> ``{token, scopes}``;
- ``POST /sandbox/oauth_clients`` ``{redirect_uris, client_id?, client_secret?}``;
- ``POST /sandbox/oauth/expire_access_tokens``: every access token expires now;
- ``PUT /sandbox/faults`` ``{"plan": "SEED:PLAN" or null}``;
- ``POST /sandbox/reset``: forget every document (credentials stay);
- tampering behind the client's back:
  ``POST /sandbox/customer_invoices`` (an invoice the client does not know,
  API body), ``PATCH /sandbox/customer_invoices/{id}`` (``amount``, ``date``,
  ``deadline``, ``label``), ``DELETE /sandbox/customer_invoices/{id}`` (with
  its entry), ``POST /sandbox/customer_invoices/{id}/mark_paid`` (paid without
  lettering), ``POST /sandbox/ledger_entries`` (API body),
  ``DELETE /sandbox/ledger_entries/{id}``,
  ``PATCH /sandbox/ledger_entry_lines/{id}`` (``debit`` / ``credit``).

**API subset** (``/api/external/v2``): ``GET /me``; customers (``/customers``,
``/company_customers``, ``/individual_customers``); ``/products``;
``/customer_invoices`` (finalized invoices and credit notes, ``invoice_lines``,
``link_credit_note``, ``mark_as_paid``); ``/journals``; ``/ledger_accounts``;
``/ledger_entries`` and their lines; ``/ledger_entry_lines`` with
``/lettering`` (POST and DELETE) and ``lettered_ledger_entry_lines``;
``/trial_balance``; ``/fiscal_years``. Cursor pagination, JSON ``filter``,
``sort``, scopes, the 25 requests / 5 s limit and the error bodies follow
``reference/pennylane.md``; the behaviours it leaves open are decided in the
docstrings of ``books``, ``invoices`` and ``querying``.
"""

from connectors.pennylane.sandbox.app import DEFAULT_RATE_LIMIT
from connectors.pennylane.sandbox.app import create_app
from connectors.pennylane.sandbox.app import main
from connectors.pennylane.sandbox.context import SCOPES

__all__ = ["DEFAULT_RATE_LIMIT", "SCOPES", "create_app", "main"]
