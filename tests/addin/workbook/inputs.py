"""Seeded random inputs for the workbook templates, and writing them into a blank template."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from addin.workbook import layout

ASSETS = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0, "DOGE": 0.15}
INVERSE_OK = ("binance", "bybit", "okx", "gate", "bitmex", "generic")

# Binance BTCUSDT brackets (floor, MMR, cum, max leverage), snapshot 2024-10-24 as published in
# freqtrade's binance_leverage_tiers.json; cum kept as published.
BTC_LINEAR = [(0, 0.004, 0, 125), (50_000, 0.005, 50, 100), (600_000, 0.0065, 950, 75),
              (3_000_000, 0.01, 11_450, 50), (12_000_000, 0.02, 131_450, 25),
              (70_000_000, 0.025, 481_450, 20), (100_000_000, 0.05, 2_981_450, 10)]
# A table without amounts: the workbook derives them with the bracket recurrence, as riskfuncs does.
ETH_LINEAR = [(0, 0.005, None, 100), (100_000, 0.0075, None, 75), (1_000_000, 0.01, None, 50),
              (5_000_000, 0.025, None, 20), (20_000_000, 0.05, None, 10)]
# Coin-margined tiers, notional in BTC.
BTC_INVERSE = [(0, 0.004, 0, 125), (5, 0.005, 0.005, 100), (50, 0.01, 0.255, 50),
               (200, 0.025, 3.255, 20), (1_000, 0.05, 28.255, 10)]
TIER_TABLES = {"BTC/USDT:USDT": BTC_LINEAR, "ETH/USDT:USDT": ETH_LINEAR,
               "BTC/USD:BTC": BTC_INVERSE}


def tier_frame(rows: list[tuple[float, float, float | None, float]]) -> pd.DataFrame:
    floors = [r[0] for r in rows]
    caps = [*floors[1:], floors[-1] * 10 if floors[-1] else 1e12]
    return pd.DataFrame({
        "minNotional": floors, "maxNotional": caps,
        "maintenanceMarginRate": [r[1] for r in rows],
        "maintenanceAmount": [np.nan if r[2] is None else r[2] for r in rows],
        "maxLeverage": [r[3] for r in rows],
    })


@dataclass
class Book:
    """Random positions (template input keys) and the tier tables they use."""

    positions: pd.DataFrame
    tiers: dict[str, pd.DataFrame]


def random_book(n: int, seed: int) -> Book:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    wallets: dict[tuple[str, str], float] = {}
    for _ in range(n):
        exchange = str(rng.choice(layout.EXCHANGES))
        contract = "inverse" if exchange in INVERSE_OK and rng.random() < 0.3 else "linear"
        asset = str(rng.choice(list(ASSETS)))
        if contract == "inverse":
            asset = str(rng.choice(["BTC", "ETH"]))
            symbol = f"{asset}/USD:{asset}"
        else:
            symbol = f"{asset}/USDT:USDT"
        side = str(rng.choice(["long", "short"]))
        entry = ASSETS[asset] * rng.uniform(0.8, 1.2)
        mark = entry * rng.uniform(0.85, 1.15)
        usd = float(np.exp(rng.uniform(np.log(500), np.log(8e6))))
        size = usd if contract == "inverse" else usd / entry
        entry_value = usd / entry if contract == "inverse" else usd
        leverage = float(rng.choice([1, 2, 3, 5, 10, 20, 25, 50]))
        collateral = entry_value / leverage * rng.uniform(0.7, 1.6)
        mode = "cross" if rng.random() < 0.3 else "isolated"
        if mode == "cross":
            settle = asset if contract == "inverse" else "USDT"
            key = (exchange, settle)
            wallets.setdefault(key, entry_value / leverage * rng.uniform(1.0, 3.0))
            collateral = wallets[key]
        row: dict[str, Any] = {
            "exchange": exchange, "symbol": symbol, "contract": contract, "side": side,
            "size": size, "entry_price": entry, "mark_price": mark, "collateral": collateral,
            "margin_mode": mode, "leverage": leverage if rng.random() < 0.85 else None,
            "tier_table": None, "maintenance_margin_rate": None, "maintenance_amount": None,
            "fee_rate": None, "max_leverage": None, "stop_price": None,
        }
        # Tier tables apply only where a row names one, and the expected values key tables by
        # symbol, so every row of a symbol with a table names it.
        if symbol in TIER_TABLES:
            row["tier_table"] = symbol
        elif exchange == "hyperliquid" and rng.random() < 0.5:
            row["max_leverage"] = float(rng.choice([20, 40, 50]))
        else:
            row["maintenance_margin_rate"] = float(rng.choice([0.004, 0.005, 0.01, 0.02, 0.05]))
            if rng.random() < 0.4:
                row["maintenance_amount"] = float(entry_value * rng.uniform(0, 0.001))
        if rng.random() < 0.4:
            row["fee_rate"] = float(rng.choice([0.0002, 0.0004, 0.0005, 0.00075]))
        if rng.random() < 0.5:
            row["stop_price"] = mark * (1 - (1 if side == "long" else -1) * rng.uniform(0, 0.4))
        rows.append(row)
    frame = pd.DataFrame(rows)
    # Symbols without a tier table of their own must not pick one up by name.
    used = set(frame.loc[frame["maintenance_margin_rate"].isna()
                         & frame["max_leverage"].isna(), "symbol"])
    tiers = {s: tier_frame(t) for s, t in TIER_TABLES.items() if s in used}
    # A symbol that has a table uses it in every row (riskfuncs.portfolio keys tiers by symbol).
    has = frame["symbol"].isin(list(tiers))
    frame.loc[has, ["maintenance_margin_rate", "maintenance_amount", "max_leverage"]] = None
    return Book(frame, tiers)


def portfolio_frame(book: Book) -> pd.DataFrame:
    """The same positions in riskfuncs.portfolio_margin's ccxt column names."""
    p = book.positions
    return pd.DataFrame({
        "exchange": p["exchange"], "symbol": p["symbol"], "side": p["side"],
        "contracts": p["size"].astype(float), "entryPrice": p["entry_price"].astype(float),
        "markPrice": p["mark_price"].astype(float), "collateral": p["collateral"].astype(float),
        "marginMode": p["margin_mode"], "contractType": p["contract"],
        "maintenanceMarginRate": p["maintenance_margin_rate"].astype(float),
        "maintenanceAmount": p["maintenance_amount"].astype(float),
        "leverage": p["leverage"].astype(float), "feeRate": p["fee_rate"].astype(float),
        "maxLeverage": p["max_leverage"].astype(float),
    })


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.floating):
        return float(value)
    return value


def write_table(ws: Any, table: layout.Table, frame: pd.DataFrame) -> None:
    if len(frame) > table.rows:
        raise ValueError(f"{len(frame)} rows do not fit table {table.key} ({table.rows})")
    for i, record in enumerate(frame.to_dict("records")):
        for key, value in record.items():
            ws.cell(table.first_row + i, table.column_index(key), _clean(value))


def write_tiers(ws: Any, tiers: Mapping[str, pd.DataFrame]) -> None:
    rows = []
    for name, frame in tiers.items():
        for k, rec in enumerate(frame.to_dict("records"), start=1):
            rows.append({"table": name, "tier": k, "min_notional": rec["minNotional"],
                         "max_notional": rec["maxNotional"],
                         "maintenance_margin_rate": rec["maintenanceMarginRate"],
                         "maintenance_amount": rec["maintenanceAmount"],
                         "max_leverage": rec["maxLeverage"]})
    write_table(ws, layout.TIERS.table("tiers"), pd.DataFrame(rows))


def clear_table(ws: Any, table: layout.Table) -> None:
    for col in table.inputs():
        index = table.column_index(col.key)
        for row in range(table.first_row, table.last_row + 1):
            ws.cell(row, index).value = None


def prefilled_rows(ws: Any, table: layout.Table) -> int:
    """Rows of a table whose first column holds something (the template's starting data)."""
    count = 0
    for row in range(table.first_row, table.last_row + 1):
        if ws.cell(row, 1).value not in (None, ""):
            count = row - table.first_row + 1
    return count


@dataclass
class Extra:
    """More input for one template: tables to write (appended after any starting rows when
    ``append``), and field values."""

    tables: dict[tuple[str, str], pd.DataFrame]
    fields: dict[tuple[str, str], Any]
    append: tuple[tuple[str, str], ...] = ()


def fill(template_path: Path, out_path: Path, book: Book, extra: Extra | None = None) -> None:
    """Write the book and the extra input into a copy of a blank template."""
    wb = load_workbook(template_path)
    write_table(wb[layout.POSITIONS.title], layout.POSITIONS.table("positions"), book.positions)
    tiers_ws = wb[layout.TIERS.title]
    clear_table(tiers_ws, layout.TIERS.table("tiers"))
    write_tiers(tiers_ws, book.tiers)
    extra = extra or Extra({}, {})
    for (sheet_key, table_key), frame in extra.tables.items():
        sheet = layout.SHEETS[sheet_key]
        if sheet.title not in wb.sheetnames:
            continue
        ws, table = wb[sheet.title], sheet.table(table_key)
        if (sheet_key, table_key) in extra.append:
            start = prefilled_rows(ws, table)
            for i, record in enumerate(frame.to_dict("records")):
                for key, value in record.items():
                    ws.cell(table.first_row + start + i, table.column_index(key), _clean(value))
        else:
            clear_table(ws, table)
            write_table(ws, table, frame)
    for (sheet_key, field_key), value in extra.fields.items():
        sheet = layout.SHEETS[sheet_key]
        if sheet.title in wb.sheetnames:
            wb[sheet.title][sheet.field_cell(field_key)].value = value
    wb.save(out_path)
