"""Keys (environment, private key file), their redaction everywhere (logs included), and the
--api-base / --testnet / progress-bar options."""

from __future__ import annotations

import io
import logging
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from addin.accounts.fetch import FetchError, FetchSettings, make_exchange, rewrite_api_urls
from addin.accounts.keys import (
    Credentials,
    KeyConfigError,
    Redactor,
    load_credentials,
    needed_env_names,
    read_config,
)
from tests.addin.fetch.conftest import SECRETS, assert_no_secret
from tests.addin.fetch.replay_server import ReplayServer

FILE_KEY, FILE_SECRET = "fileKEYgate7731", "fileSECRETgate8842"


def key_file(tmp_path: Path, mode: int = 0o600, text: str | None = None) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(text if text is not None else
                    f'[gate]\napi_key = "{FILE_KEY}"\nsecret = "{FILE_SECRET}"\n\n'
                    '[hyperliquid]\nwallet_address = "0xabc"\n', encoding="utf-8")
    path.chmod(mode)
    return path


# -- keys ------------------------------------------------------------------------------------

def test_environment_names() -> None:
    assert needed_env_names("binanceusdm") == ["PERPRISK_BINANCEUSDM_API_KEY",
                                               "PERPRISK_BINANCEUSDM_SECRET"]
    assert needed_env_names("okx")[-1] == "PERPRISK_OKX_PASSWORD"
    assert needed_env_names("hyperliquid") == ["PERPRISK_HYPERLIQUID_WALLET_ADDRESS"]


def test_environment_wins_over_the_file_field_by_field(tmp_path: Path) -> None:
    path = key_file(tmp_path)
    creds = load_credentials(["gate", "hyperliquid", "okx"], config=path,
                             environ={"PERPRISK_GATE_API_KEY": " envKEY123 "})
    assert creds["gate"].api_key == "envKEY123"
    assert creds["gate"].secret == FILE_SECRET
    assert creds["gate"].can_read_account()
    assert creds["hyperliquid"].wallet_address == "0xabc"
    assert creds["hyperliquid"].can_read_account()
    assert not creds["okx"].can_read_account()
    assert FILE_SECRET not in repr(creds["gate"]) and "envKEY123" not in repr(creds["gate"])


def test_okx_needs_its_passphrase() -> None:
    creds = Credentials("okx", api_key="k" * 8, secret="s" * 8)
    assert not creds.can_read_account()
    assert Credentials("okx", api_key="k" * 8, secret="s" * 8,
                       password="p" * 8).can_read_account()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = key_file(tmp_path, mode)
    with pytest.raises(KeyConfigError) as caught:
        read_config(path)
    message = str(caught.value)
    assert message == (f"{path}: the key file is readable by others (mode {mode:o}); refused. "
                       f"Fix it with: chmod 600 {path}")
    assert FILE_SECRET not in message


def test_default_key_file_is_read_when_present(tmp_path: Path) -> None:
    folder = tmp_path / "perprisk"
    folder.mkdir()
    key_file(folder)
    creds = load_credentials(["gate"], environ={"XDG_CONFIG_HOME": str(tmp_path)})
    assert creds["gate"].secret == FILE_SECRET
    assert load_credentials(["gate"], environ={"XDG_CONFIG_HOME": str(tmp_path / "none")}
                            )["gate"].secret is None


@pytest.mark.parametrize(("text", "says"), [
    ('[gate]\napi_key = "abcd\n', "not valid TOML"),
    ('[gate]\napikey = "x"\n', "unknown field(s) apikey"),
    ("[gate]\napi_key = 12345\n", "api_key must be text"),
    ('gate = "x"\n', "gate must be a table"),
])
def test_bad_key_files_are_one_line_without_their_content(tmp_path: Path, text: str,
                                                          says: str) -> None:
    path = key_file(tmp_path, text=text)
    with pytest.raises(KeyConfigError) as caught:
        read_config(path)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value) and "abcd" not in str(caught.value)


def test_a_missing_given_key_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="cannot read the key file"):
        load_credentials(["gate"], config=tmp_path / "nope.toml", environ={})


def test_redactor_masks_keys_and_values_and_leaves_short_strings() -> None:
    redact = Redactor(["topSECRETvalue", "abc"])
    assert redact("x topSECRETvalue y abc") == "x *** y abc"
    assert redact.scrub({"a": ["topSECRETvalue"], "topSECRETvalue": 1.5}) == {
        "a": ["***"], "***": 1.5}


# -- the key file through the CLI -----------------------------------------------------------

def test_cli_refuses_a_readable_key_file_before_any_request(
        run_fetch: Any, replay: ReplayServer, keys_env: Any, tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o644)
    run = run_fetch("gate", extra=("--config", str(path)))
    assert run.code == 2
    assert run.error_lines() == [f"{path}: the key file is readable by others (mode 644); "
                                 f"refused. Fix it with: chmod 600 {path}"]
    assert replay.seen == [] and not run.path.exists()


def test_cli_reads_keys_from_the_key_file(run_fetch: Any, replay: ReplayServer, keys_env: Any,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.delenv("PERPRISK_GATE_API_KEY")
    monkeypatch.delenv("PERPRISK_GATE_SECRET")
    path = key_file(tmp_path)
    run = run_fetch("gate", extra=("--config", str(path)))
    assert run.code == 0, run.err
    assert replay.requests_to("/api/v4/futures/usdt/positions")[0].headers["KEY"] == FILE_KEY
    for text in (run.out, run.err, run.path.read_text()):
        assert FILE_KEY not in text and FILE_SECRET not in text


def test_ccxt_debug_log_never_shows_a_key(run_fetch: Any, replay: ReplayServer, keys_env: Any,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    run = run_fetch("binanceusdm", "okx")
    assert run.code == 0, run.err
    requests = [r for r in caplog.records if r.name.startswith("ccxt")]
    assert requests, "ccxt logs its requests at debug level"
    assert any("***" in r.getMessage() for r in requests)  # the key header, masked
    assert_no_secret(caplog.text, *(r.getMessage() for r in caplog.records))


# -- --api-base, --testnet --------------------------------------------------------------------

def test_rewrite_keeps_paths_through_nested_urls() -> None:
    urls = {"rest": "https://{hostname}", "public": {"futures": "https://api.gateio.ws/api/v4"},
            "list": ["https://fapi.binance.com/fapi/v1?x=1"], "n": 3, "text": "not a url"}
    assert rewrite_api_urls(urls, "http://127.0.0.1:8080/mirror/") == {
        "rest": "http://127.0.0.1:8080/mirror", "public": {
            "futures": "http://127.0.0.1:8080/mirror/api/v4"},
        "list": ["http://127.0.0.1:8080/mirror/fapi/v1?x=1"], "n": 3, "text": "not a url"}
    with pytest.raises(FetchError, match="expected http"):
        rewrite_api_urls(urls, "127.0.0.1:8080")


def test_testnet_then_api_base() -> None:
    settings = FetchSettings(testnet=True)
    bybit = make_exchange("bybit", Credentials("bybit"), settings)
    assert bybit.urls["api"]["public"] == "https://api-testnet.{hostname}"
    gate = make_exchange("gate", Credentials("gate"),
                         FetchSettings(testnet=True, api_base={"gate": "http://127.0.0.1:1"}))
    assert gate.urls["api"]["private"]["futures"] == "http://127.0.0.1:1/api/v4"


def test_testnet_through_the_cli(run_fetch: Any, replay: ReplayServer, keys_env: Any) -> None:
    run = run_fetch("okx", extra=("--testnet",))
    assert run.code == 0, run.err
    # OKX's demo trading is the same host with this header on every request.
    assert all(s.headers.get("x-simulated-trading") == "1" for s in replay.seen)


def test_unknown_exchange_is_a_usage_error(run_fetch: Any, replay: ReplayServer,
                                           keys_env: Any) -> None:
    run = run_fetch("binanceusdm", "bnance")
    assert run.code == 2
    assert run.error_lines()[0].startswith("--exchange bnance: not a ccxt exchange id")
    assert replay.seen == []


def test_out_must_be_xlsx_or_json(run_fetch: Any, keys_env: Any) -> None:
    run = run_fetch("gate", out="book.xlsm")
    assert run.code == 2
    assert "expected a .xlsx workbook or a .json export" in run.err


# -- progress ---------------------------------------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_and_not_with_quiet(
        replay: ReplayServer, keys_env: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from addin.cli import main

    for quiet in (False, True):
        terminal = _Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        argv = ["fetch", "--exchange", "gate", "--exchange", "hyperliquid", "--out",
                str(tmp_path / f"e{quiet}.json"), "--api-base", replay.url]
        assert main([*argv, "--quiet"] if quiet else argv) == 0
        shown = terminal.getvalue()
        if quiet:
            assert shown == ""
        else:
            assert "call" in shown and "hyperliquid" in shown
            assert_no_secret(shown)
    assert SECRETS and os.environ["PERPRISK_GATE_SECRET"] in SECRETS


def test_a_bad_api_base_is_a_usage_error(run_fetch: Any, replay: ReplayServer,
                                         keys_env: Any) -> None:
    run = run_fetch("gate", api_base=False, extra=("--api-base", "gate=127.0.0.1:9000"))
    assert run.code == 2
    assert run.error_lines() == ["--api-base '127.0.0.1:9000': expected "
                                 "http(s)://HOST[:PORT][/PATH]"]
    assert replay.seen == []


def test_an_unknown_template_is_a_usage_error(run_fetch: Any, replay: ReplayServer,
                                              keys_env: Any) -> None:
    run = run_fetch("gate", out="book.xlsx", extra=("--template", "nope"))
    assert run.code == 2
    assert run.error_lines()[0].startswith("unknown template 'nope'; known: ")
    assert replay.seen == []
