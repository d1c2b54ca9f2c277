"""Pennylane Company API v2: connector and local sandbox.

``connectors.pennylane.sandbox`` is a local HTTP stand-in for the API, used by
the tests and the ``partida sandbox pennylane`` command.
"""
