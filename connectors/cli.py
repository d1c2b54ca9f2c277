"""The ``partida`` console script: the engine's commands plus the providers'.

Provider commands live here, not in ``engine.cli``, so ``engine`` never
imports ``connectors``.
"""

from __future__ import annotations

from engine.cli import cli


def main() -> None:
    cli()
