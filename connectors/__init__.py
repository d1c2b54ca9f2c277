"""Partida's connectors: replay the local ledger to accounting providers.

One package per provider (``pennylane``, later ``quickbooks``), plus
``sandbox``: the provider-independent foundation of the local HTTP sandboxes
that stand in for the real providers in tests and demos.
"""
