"""Partida's real-time intake service: signed webhooks in, continuous replay out.

``partida serve`` runs one ASGI app (``service.app``) on uvicorn. A booking
platform posts events to ``POST /v1/ledgers/<name>/events``; each ledger has
one writer (``service.intake``) that group-commits what concurrent requests
bring, and answers 202 only once the events are durably in the ledger files.
One replay worker per ledger and connected provider (``service.worker``)
pushes new transactions to the provider within seconds, pausing through
outages. Requests are authenticated with an HMAC of the body and a timestamp
(``service.signing``) under a per-ledger secret (``service.secrets``).

Layering: ``service`` uses ``engine`` and ``connectors``; neither imports it
(``connectors.cli`` only registers its commands through ``service.cli``).
"""
