"""What fill and report do with the shapes real ccxt exports take: hedge mode, flat positions,
venues without a rule, accounts larger than a workbook, venues that failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from addin.cli import main
from addin.reader import read_filled_workbook
from addin.reader.exchange_data import ExportError, load_export
from addin.report import assess_file
from addin.workbook import layout


def _position(**fields: Any) -> dict[str, Any]:
    base = {"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 1.0, "contractSize": 1.0,
            "entryPrice": 60_000.0, "markPrice": 61_000.0, "marginMode": "cross",
            "maintenanceMarginPercentage": 0.005, "unrealizedPnl": 1_000.0,
            "collateral": None, "stopLossPrice": None, "info": {}}
    return {**base, **fields}


def _export(tmp_path: Path, venues: dict[str, Any], name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"perprisk_export": 1, "venues": venues}))
    return path


def test_hedge_mode_keeps_both_sides_sharing_the_wallet(tmp_path: Path) -> None:
    # A long and a short of one symbol on one cross account: two positions, one wallet.
    balance = {"info": {"assets": [{"asset": "USDT", "crossWalletBalance": "5000",
                                    "walletBalance": "5000"}]}}
    path = _export(tmp_path, {"binanceusdm": {"balance": balance, "positions": [
        _position(side="long", info={"positionSide": "LONG"}),
        _position(side=None, contracts=0.4, entryPrice=62_000.0, unrealizedPnl=400.0,
                  info={"positionSide": "SHORT", "positionAmt": "-0.4"}),
    ]}})
    export = load_export(path)
    assert [p.values["side"] for p in export.positions] == ["long", "short"]
    assert {p.values["collateral"] for p in export.positions} == {5000.0}
    assert export.positions[0].sources["collateral"] == "Binance USDT crossWalletBalance"
    book = tmp_path / "book.xlsx"
    assert main(["fill", "--positions", str(path), "--out", str(book)]) == 0
    outcome = assess_file(book)
    assert outcome.assessment is not None
    # Cross: both rows share one account, so their margin balance is the account's.
    balances = {p.side: p.margin_balance for p in outcome.assessment.positions}
    assert balances["long"] == pytest.approx(balances["short"], rel=1e-12)
    # Wallet + the long's PnL at the mark + the short's.
    assert balances["long"] == pytest.approx(5000 + 1 * (61_000 - 60_000)
                                             + 0.4 * (62_000 - 61_000), rel=1e-12)


def test_flat_positions_are_skipped_and_listed_stop_zero_is_no_stop(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "positions.json"
    path.write_text(json.dumps([
        {"exchange": "bybit", "symbol": "ETH/USDT:USDT", "side": "long", "contracts": 0,
         "entryPrice": 0, "markPrice": 3000},
        {"exchange": "bybit", "symbol": "BTC/USDT:USDT", "side": "short", "contracts": 0.5,
         "entryPrice": 60_000, "markPrice": 59_000, "positionMargin": 3000,
         "marginMode": "isolated", "maintenanceMarginPercentage": 0.005, "stopLossPrice": "0"},
    ]))
    out = tmp_path / "book.xlsx"
    assert main(["fill", "--positions", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped: bybit ETH/USDT:USDT long: size 0 (flat), skipped" in err
    rows = read_filled_workbook(out).tables["positions"]
    assert len(rows) == 1 and rows["stop_price"].isna().all()


def test_a_venue_without_a_rule_keeps_its_name_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "positions.json"
    path.write_text(json.dumps({"positions": [
        {"exchange": "Deribit", "symbol": "BTC/USDT:USDT", "side": "long", "contracts": 1,
         "entryPrice": 60_000, "markPrice": 60_000, "positionMargin": 6000,
         "marginMode": "isolated", "maintenanceMarginPercentage": 0.004}]}))
    exchanges = tmp_path / "exchanges.json"
    exchanges.write_text(json.dumps({"exchanges": [{"exchange": "deribit", "audit": 0.5,
                                                    "loss_given_default": 0.6}]}))
    out = tmp_path / "book.xlsx"
    assert main(["fill", "--positions", str(path), "--exchanges", str(exchanges), "--out",
                 str(out)]) == 0
    ws = load_workbook(out)[layout.POSITIONS.title]
    table = layout.POSITIONS.table("positions")
    assert ws.cell(table.first_row, table.column_index("exchange")).value == "deribit"
    outcome = assess_file(out)
    assert outcome.assessment is not None
    assert outcome.assessment.positions[0].exchange == "deribit"
    assert outcome.assessment.scorecard is not None
    (deribit,) = outcome.assessment.scorecard.exchanges
    # The scorecard row named deribit meets the deribit position's exposure (equity 6,000).
    assert deribit.exchange == "deribit" and deribit.exposure == pytest.approx(6000, rel=1e-12)


def test_more_positions_than_a_workbook_holds(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    n = layout.POSITIONS.table("positions").rows + 12
    positions = [{"symbol": f"C{i}/USDT:USDT", "side": "long", "contracts": 1,
                  "entryPrice": 100, "markPrice": 100, "positionMargin": 20,
                  "marginMode": "isolated", "maintenanceMarginPercentage": 0.01}
                 for i in range(n)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"okx": positions}))
    out = tmp_path / "book.xlsx"
    assert main(["fill", "--positions", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{n} positions, but the template holds {n - 12}; these do not fit: okx C250/USDT" \
           ":USDT long" in err and "and 7 more" in err
    assert not out.exists()
    # The report reads the export itself: all of them.
    report = tmp_path / "report.json"
    assert main(["report", str(path), "--format", "json", "--out", str(report)]) == 0
    assert len(json.loads(report.read_text())["positions"]) == n


def test_a_venue_that_failed_is_red_never_all_clear(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = _export(tmp_path, {
        "gate": {"positions": None, "errors": [{"what": "positions",
                                                "message": "cannot reach the exchange"}]},
    })
    assert main(["report", str(path)]) == 1
    text = capsys.readouterr().out
    assert "RED" in text.upper() and "gate: positions: cannot reach the exchange" in text
    empty = _export(tmp_path, {"okx": {"positions": []}}, "empty.json")
    assert main(["report", str(empty)]) == 1  # an empty book is never a clean result
    assert "no open position" in capsys.readouterr().out


def test_an_export_without_its_exchange_is_refused_not_valued_generically(
        tmp_path: Path) -> None:
    path = tmp_path / "positions.csv"
    path.write_text("symbol,side,contracts,entryPrice,markPrice,positionMargin,"
                    "maintenanceMarginPercentage\nBTC/USDT:USDT,long,1,60000,60000,6000,0.004\n")
    with pytest.raises(ExportError, match="pass --exchange"):
        load_export(path)
    assert load_export(path, default_exchange="gateio").positions[0].values["exchange"] == "gate"


def test_fill_and_check_say_their_notes_and_warnings_as_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    position = {"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 1,
                "entryPrice": 60_000, "markPrice": 60_000, "positionMargin": 6000,
                "marginMode": "isolated", "maintenanceMarginPercentage": 0.004}
    hostile = _export(tmp_path, {"bit\x1bmex\u202e": {"positions": [position]}}, "bad.json")
    assert main(["fill", "--positions", str(hostile), "--out", str(tmp_path / "x.xlsx")]) == 1
    err = capsys.readouterr().err
    # The venue's control and bidi characters are shown escaped, never sent to the terminal.
    assert "\x1b" not in err and "\u202e" not in err and "bit\\x1bmex\\u202e" in err
    path = _export(tmp_path, {"bybit": {"positions": [position]}})
    bars = tmp_path / "ohlcv.json"
    bars.write_text(json.dumps({"BTC/USDT:USDT": [
        [1_600_000_000_000 + i * 86_400_000, 1, 1, 1, 60_000 + i, 1] for i in range(500)]}))
    out = tmp_path / "book.xlsx"
    main(["fill", "--positions", str(path), "--prices", str(bars), "--out", str(out)])
    err = capsys.readouterr().err
    # Truncated market data is a note line, not a Python warning.
    assert "note: " in err and "400" in err and "Warning" not in err
    # check prints the reader's warnings under the file (a mark far from entry).
    far = _export(tmp_path, {"bybit": {"positions": [dict(position, markPrice=700_000)]}},
                  "far.json")
    book = tmp_path / "far.xlsx"
    main(["fill", "--positions", str(far), "--out", str(book)])
    capsys.readouterr()
    main(["check", str(book)])
    assert "  warning: " in capsys.readouterr().out
