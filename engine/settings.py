"""Ledger settings, stored in ``partida.toml`` beside ``main.beancount``."""

from __future__ import annotations

import datetime
import functools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .chart import Chart, get_chart

VAT_POLICIES = ("receipts", "debits")


@dataclass(frozen=True, slots=True)
class Settings:
    """What a ledger is: company, currency, chart, VAT policy, fiscal year."""

    company: str
    # Empty currency, policy or methods take the chart's defaults (EUR,
    # receipts for fr-pcg; CAD, debits for ca-qc).
    currency: str = ""
    chart_name: str = "fr-pcg"
    vat_policy: str = ""
    fiscal_year_start: str = "01-01"
    # Every account is opened on this date so back-dated events always post.
    open_date: datetime.date = datetime.date(2000, 1, 1)
    methods: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    siren: str = ""  # the company's SIREN, for the FEC's file name

    def __post_init__(self) -> None:
        chart = self.chart
        if not self.currency:
            object.__setattr__(self, "currency", chart.default_currency)
        if not self.vat_policy:
            object.__setattr__(self, "vat_policy", chart.vat_policies[0])
        if self.vat_policy not in chart.vat_policies:
            raise ValueError(f"chart {chart.name} allows the VAT policy {', '.join(chart.vat_policies)} only, "
                             f"not {self.vat_policy}")
        object.__setattr__(self, "methods", MappingProxyType({**chart.default_methods, **self.methods}))

    @property
    def chart(self) -> Chart:
        return get_chart(self.chart_name)

    def method_account(self, method: str) -> str:
        """The Beancount account a payment method settles into."""
        return self.chart.account(self.methods[method])

    def fiscal_year(self, day: datetime.date) -> int:
        """The fiscal year of ``day``, named after the year it closes in."""
        month, dom = _month_day(self.fiscal_year_start)
        if (month, dom) == (1, 1):
            return day.year
        return day.year + 1 if (day.month, day.day) >= (month, dom) else day.year

    def fiscal_year_bounds(self, year: int) -> tuple[datetime.date, datetime.date]:
        """First and last day of fiscal year ``year`` (named after its closing year)."""
        month, dom = _month_day(self.fiscal_year_start)
        if (month, dom) == (1, 1):
            return datetime.date(year, 1, 1), datetime.date(year, 12, 31)
        start = datetime.date(year - 1, month, dom)
        end = datetime.date(year, month, dom) - datetime.timedelta(days=1)
        return start, end


@functools.lru_cache(maxsize=None)
def _month_day(text: str) -> tuple[int, int]:
    """``"MM-DD"`` as numbers (cached: asked once per transaction written)."""
    month, dom = (int(p) for p in text.split("-"))
    return month, dom


def _toml_string(text: str) -> str:
    # A JSON string literal is a TOML basic string once DEL is escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def render_settings(settings: Settings) -> str:
    """The text of ``partida.toml``."""
    lines = [
        "# Partida ledger settings. Changing the chart or VAT policy of a ledger",
        "# that already holds transactions does not rewrite them.",
        "[company]",
        f"name = {_toml_string(settings.company)}",
        f"currency = {_toml_string(settings.currency)}",
        f"chart = {_toml_string(settings.chart_name)}",
        f"vat_policy = {_toml_string(settings.vat_policy)}",
        f"fiscal_year_start = {_toml_string(settings.fiscal_year_start)}",
        f"open_date = {settings.open_date.isoformat()}",
        *([f"siren = {_toml_string(settings.siren)}"] if settings.siren else []),
        "",
        "# Payment method -> account number of the chart.",
        "[methods]",
    ]
    lines += [f"{m} = {_toml_string(n)}" for m, n in settings.methods.items()]
    return "\n".join(lines) + "\n"


def load_settings(path: Path) -> Settings:
    """Read ``partida.toml``."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    company = data.get("company", {})
    return Settings(
        company=company["name"],
        currency=company.get("currency", ""),
        chart_name=company.get("chart", "fr-pcg"),
        vat_policy=company.get("vat_policy", ""),
        fiscal_year_start=company.get("fiscal_year_start", "01-01"),
        open_date=company.get("open_date", datetime.date(2000, 1, 1)),
        methods=MappingProxyType(dict(data.get("methods", {}))),
        siren=str(company.get("siren", "")),
    )
