"""QuickBooks Online Accounting API v3: local sandbox and schema checks.

- ``connectors.quickbooks.sandbox`` is a local HTTP stand-in for the API
  (OAuth, entities, query, batch, reports, throttling, faults), used by the
  tests and the ``partida sandbox quickbooks`` command;
- ``connectors.quickbooks.xsd`` converts a JSON payload to XML in the order
  of Intuit's XSD and validates it, so tests can check the payloads a
  connector sends against Intuit's own schema.
"""
