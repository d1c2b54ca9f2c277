"""Pennylane Company API v2: connector and local sandbox.

- ``mapping``: a ledger transaction -> API payloads (pure); the mapping
  decisions (accounts, journals, VAT 44571/44574 reconciliation, lettering)
  are in its docstring;
- ``client``: the only I/O, over an injected ``httpx.Client``: pacing and
  error translation;
- ``connector``: ``PennylaneConnector``, the ``connectors.base.Connector``
  that pushes one transaction exactly once.

``connectors.pennylane.sandbox`` is a local HTTP stand-in for the API, used by
the tests and the ``partida sandbox pennylane`` command.
"""
