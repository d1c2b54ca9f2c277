"""QuickBooks Online Accounting API v3: connector, local sandbox and schema checks.

- ``charts``: the account and tax table of each ledger chart (``fr-pcg`` now;
  a Québec chart adds its own ``ChartMap``);
- ``references``: what Partida writes on QuickBooks objects to find them
  again (keys in ``PrivateNote``, ``DocNumber``, customer markers) and the
  ``requestid`` of each write;
- ``mapping``: a ledger transaction -> QuickBooks plans and payloads (pure);
  what each event becomes, and why, is in its docstring;
- ``client``: the only I/O, over an injected ``httpx.Client``: pacing,
  batches, error translation;
- ``connector``: ``QuickBooksConnector``, the ``connectors.base.Connector``
  that pushes one transaction exactly once.

``connectors.quickbooks.sandbox`` is a local HTTP stand-in for the API
(OAuth, entities, query, batch, reports, throttling, faults), used by the
tests and the ``partida sandbox quickbooks`` command;
``connectors.quickbooks.xsd`` converts a JSON payload to XML in the order of
Intuit's XSD and validates it, so tests can check the payloads a connector
sends against Intuit's own schema.
"""
