"""Partida's engine: booking events in, balanced Beancount transactions out.

Data flows one way: ``events`` (parse and validate) -> ``rules`` (pure posting
rules) -> ``ledger`` (the only code that writes ledger files). ``engine`` never
imports ``connectors``.
"""
