"""``perprisk por verify`` end to end (in process) and the scorecard row it produces."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from addin.cli import main
from addin.por.verify import Verification, merge_scorecard, scorecard_row, verify_proof
from riskfuncs.counterparty import reserve_subscore

REF = Path(__file__).resolve().parents[2] / "reference" / "por"
OKX = REF / "okx" / "merkle_proof_file.json"
BITMEX = REF / "bitmex" / "liabilities-100-proof.csv"
SAMPLE_SCORECARD = Path(__file__).resolve().parents[3] / "templates" / "sample" / "exchanges.json"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["por", "verify", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _tampered(tmp_path: Path) -> Path:
    proof = json.loads(OKX.read_text(encoding="utf-8"))
    proof["self"]["balances"]["BTC"] = "2.000069"
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(proof), encoding="utf-8")
    return path


def test_valid_proof_exits_0_and_shows_balances_and_root(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(OKX), "--reserve-ratio", "1.05", "--attested",
                          "2026-11-20", "--today", "2026-12-01")
    assert (code, err) == (0, "")
    assert "VALID: your balances are included" in out
    assert "Your balances: BTC 1.000069, ETH 0.99908176, USDT 19398.33550812" in out
    assert "Root: ac6b39d2a0aa8112bd1aadff5e7d4b5c2b91cd54d595262ba4367f5d2db4160d" in out
    assert "levels 1-23" in out
    assert "sub-score 1.00 (reserve ratio 1.05, snapshot 11 day(s) old)" in out


def test_tampered_proof_exits_1_naming_the_step(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(capsys, str(_tampered(tmp_path)))
    assert code == 1
    assert "FAILED  leaf" in out and "INVALID: failed at leaf" in out
    assert "red alert" in out


def test_bitmex_tree_with_account_and_nonce(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, str(BITMEX), "--account", "4", "--account-nonce",
                        "b4fb0f6cb39e1b47e159996d54121309d92fed531a4f55b7a30772cb5f21cf8a")
    assert code == 0 and "Your balances: BTC 40\n" in out


@pytest.mark.parametrize(("name", "content", "words"), [
    ("binance.json", (REF / "binance" / "user_config.json").read_text(encoding="utf-8"),
     "not supported yet"),
    ("broken.json", "{not json", "not JSON"),
    ("other.json", '{"a": 1}', "not a known proof format"),
])
def test_unsupported_or_unreadable_exits_2_with_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: str,
        words: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    code, out, err = _run(capsys, str(path), "--json")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"perprisk por verify: {name}: ")
    assert words in err


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, str(tmp_path / "none.json"))
    assert code == 2 and "none.json: cannot read the proof" in err


def test_json_output_is_a_scorecard_fill_reads(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(capsys, str(OKX), "--json", "--reserve-ratio", "0.95", "--attested",
                        "2026-11-01", "--today", "2026-12-01", "--merge",
                        str(SAMPLE_SCORECARD))
    assert code == 0
    data = json.loads(out)
    assert data["proof"]["valid"] is True and data["proof"]["failed_step"] is None
    assert data["proof"]["root"]["balances"]["USDT"] == "3137909428.88369702"
    sample = json.loads(SAMPLE_SCORECARD.read_text(encoding="utf-8"))["exchanges"]
    rows = {r["exchange"]: r for r in data["exchanges"]}
    assert len(rows) == len(sample)
    okx = rows["okx"]
    assert okx["proof_of_reserves"] == pytest.approx(float(reserve_subscore(0.95, 30)), abs=1e-6)
    assert okx["days_since_attestation"] == 30 and okx["proof_of_reserves_date"] == "2026-11-01"
    # the other sub-scores and the other venues are kept
    before = {r["exchange"]: r for r in sample}
    assert okx["audit"] == before["okx"]["audit"]
    assert rows["binance"] == before["binance"]
    # what 'perprisk fill --exchanges' reads
    from addin.reader.exchange_data import load_exchanges

    path = tmp_path / "checked.json"
    path.write_text(out, encoding="utf-8")
    loaded = {r["exchange"]: r for r in load_exchanges(path)}
    assert loaded["okx"]["proof_of_reserves"] == okx["proof_of_reserves"]


def test_failed_proof_row_is_a_red_alert_scoring_zero(tmp_path: Path) -> None:
    proof = json.loads(OKX.read_text(encoding="utf-8"))
    broken = copy.deepcopy(proof)
    broken["path"][23]["hash"] = "0" * 64
    row = scorecard_row(verify_proof(broken), reserve_ratio=1.2, attested_on=date(2026, 11, 1),
                        today=date(2026, 11, 2))
    assert row["proof_of_reserves"] == 0.0 and row["alert"] == "red"
    assert row["alert_reason"].startswith("proof of reserves failed at root: ")
    assert row["proof_of_reserves_verified"] is False


def test_valid_proof_without_ratio_leaves_the_score_out() -> None:
    row = scorecard_row(verify_proof(json.loads(OKX.read_text(encoding="utf-8"))))
    assert "proof_of_reserves" not in row and "alert" not in row
    assert row["proof_of_reserves_verified"] is True and "reserve ratio" in \
        row["proof_of_reserves_note"]


@pytest.mark.parametrize(("ratio", "days"), [(1.0, 0), (0.97, 45), (0.9, 10), (1.3, 200)])
def test_score_is_riskfuncs_reserve_subscore(ratio: float, days: int) -> None:
    ok = Verification("okx-merkle-v1", "okx", True, (), {}, "ab", {})
    row = scorecard_row(ok, reserve_ratio=ratio, attested_on=date(2026, 1, 1),
                        today=date.fromordinal(date(2026, 1, 1).toordinal() + days))
    assert row["proof_of_reserves"] == pytest.approx(float(reserve_subscore(ratio, days)),
                                                     abs=1e-6)


def test_merge_appends_an_exchange_not_in_the_scorecard() -> None:
    rows: list[dict[str, Any]] = [{"exchange": "okx", "audit": 0.5}]
    merged = merge_scorecard(rows, {"exchange": "bitmex", "proof_of_reserves": 0.0})
    assert [r["exchange"] for r in merged] == ["okx", "bitmex"]
    assert rows == [{"exchange": "okx", "audit": 0.5}]


def test_attested_after_today_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, str(OKX), "--attested", "2026-12-02", "--today", "2026-12-01")
    assert code == 2 and "merkle_proof_file.json: --attested 2026-12-02 is after today" in err


def test_unreadable_scorecard_to_merge_exits_2(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    bad = tmp_path / "exchanges.json"
    bad.write_text('{"exchanges": 3}', encoding="utf-8")
    code, out, err = _run(capsys, str(OKX), "--json", "--merge", str(bad))
    assert code == 2 and out == "" and err.count("\n") == 1 and "exchanges.json: " in err
