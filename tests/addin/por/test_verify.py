"""Proof-of-reserves verification against the exchanges' published samples and tampered copies.

Samples and their sources: tests/reference/por/README.md. Each tamper changes one thing a
dishonest exchange (or a corrupted download) could change, and the test names the step that
must catch it.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from addin.por import verify as por
from addin.por.verify import (
    ProofError,
    UnsupportedProofError,
    Verification,
    detect_format,
    parse_proof,
    verify_bitmex_liabilities,
    verify_proof,
)
from tests.addin.por import construct

REF = Path(__file__).resolve().parents[2] / "reference" / "por"
OKX = REF / "okx" / "merkle_proof_file.json"
BITGET = REF / "bitget" / "constructed_proof.json"
BITMEX = REF / "bitmex" / "liabilities-100-proof.csv"
BITMEX_README = REF / "bitmex" / "readme-tree.csv"
#: Account nonces printed in BitMEX's README (tests/reference/por/README.md).
BITMEX_NONCES = {
    1: "4b014f71332f674b47ccec77ac055c7f6e94f7968afe15b9ffb63b9c392ee97a",
    2: "b88860add96111d84d38a500266df715158f91375d9aaa98aa58356f9a872412",
    4: "b4fb0f6cb39e1b47e159996d54121309d92fed531a4f55b7a30772cb5f21cf8a",
}

Json = dict[str, Any]


def _load(path: Path) -> Json:
    data: Json = json.loads(path.read_text(encoding="utf-8"))
    return data


def _failed(result: Verification) -> str:
    step = result.failed_step
    assert step is not None, "expected a failed step"
    return step.name


# ---------------------------------------------------------------------------------------------
# OKX 2022-23 (published sample, MIT)


def test_okx_published_sample_is_valid_with_the_published_figures() -> None:
    result = verify_proof(_load(OKX), source=OKX.name)
    assert result.valid and result.failed_step is None
    assert result.format == "okx-merkle-v1" and result.exchange == "okx"
    assert result.audit_id == "499930592"
    # the figures OKX's sample publishes (README of tests/reference/por)
    assert result.root_hash == "ac6b39d2a0aa8112bd1aadff5e7d4b5c2b91cd54d595262ba4367f5d2db4160d"
    assert result.root_balances == {"BTC": Decimal("95088.55505656"),
                                    "ETH": Decimal("939953.49090361"),
                                    "USDT": Decimal("3137909428.88369702")}
    assert result.balances == {"BTC": Decimal("1.000069"), "ETH": Decimal("0.99908176"),
                               "USDT": Decimal("19398.33550812")}
    assert [s.name for s in result.steps] == ["leaf", *(f"level {n}" for n in range(1, 24)),
                                              "root"]


def _set(*keys: Any, value: Any) -> Callable[[Json], None]:
    def change(proof: Json) -> None:
        target: Any = proof
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def _forge_okx_leaf(proof: Json) -> None:
    """Raise the user's USDT and recompute the leaf hash so the leaf check passes."""
    me = proof["self"]
    me["balances"]["USDT"] = "29398.33550812"
    me["hash"] = por._okx_leaf_hash(me["nonce"], me["balances"])


OKX_TAMPERS: list[tuple[str, Callable[[Json], None], str, str]] = [
    ("your balance", _set("self", "balances", "USDT", value="19399.33550812"), "leaf",
     "your balances or nonce were changed"),
    ("your nonce", _set("self", "nonce", value="0" * 64), "leaf", "were changed"),
    ("your balance with the leaf hash recomputed", _forge_okx_leaf, "root",
     "differs from the published root"),
    ("a sibling hash", _set("path", 6, "hash", value="f" * 64), "root",
     "differs from the published root"),
    ("a sibling balance", _set("path", 9, "balances", "BTC", value="2.6435463"), "root",
     "differs from the published root"),
    ("the height-1 sibling leaf's balance", _set("path", 0, "balances", "USDT", value="1"),
     "level 1", "sibling leaf's hash does not match"),
    ("a sibling's height", _set("path", 4, "height", value=7), "level 5",
     "at height 7, expected 5"),
    ("a sibling's side", _set("path", 3, "type", value=3), "level 4", "type must be 1"),
    ("a negative sibling balance", _set("path", 2, "balances", "ETH", value="-1"), "level 3",
     "negative"),
    ("the root hash", _set("path", 23, "hash", value="ac6b39d2" + "0" * 56), "root",
     "differs from the published root"),
    ("the root's BTC total", _set("path", 23, "balances", "BTC", value="95089.55505656"), "root",
     "BTC 95088.55505656 computed vs 95089.55505656 published"),
    ("the root's height", _set("path", 23, "height", value=25), "root", "height 25"),
]


@pytest.mark.parametrize(("what", "change", "step", "words"), OKX_TAMPERS,
                         ids=[t[0] for t in OKX_TAMPERS])
def test_okx_tampered_copy_fails_at_the_right_step(
        what: str, change: Callable[[Json], None], step: str, words: str) -> None:
    proof = copy.deepcopy(_load(OKX))
    change(proof)
    result = verify_proof(proof, source="tampered.json")
    assert not result.valid, what
    assert _failed(result) == step
    assert result.failed_step is not None and words in result.failed_step.detail


def test_okx_unreadable_fields_are_named() -> None:
    proof = copy.deepcopy(_load(OKX))
    proof["path"][2]["balances"]["BTC"] = "lots"
    with pytest.raises(ProofError, match=r"^p\.json path 3 BTC: a balance must be a number"):
        verify_proof(proof, source="p.json")
    proof = copy.deepcopy(_load(OKX))
    del proof["self"]["nonce"]
    with pytest.raises(ProofError, match=r"^p\.json: not a known proof format"):
        verify_proof(proof, source="p.json")


# ---------------------------------------------------------------------------------------------
# Bitget (constructed: no licensed sample)


def test_bitget_constructed_proof_is_rebuilt_byte_for_byte() -> None:
    assert BITGET.read_text(encoding="utf-8") == construct.text()
    assert "CONSTRUCTED" in _load(BITGET)["_note"]


def test_bitget_constructed_proof_is_valid() -> None:
    result = verify_proof(_load(BITGET), source=BITGET.name)
    assert result.valid and result.format == "bitget-merkle" and result.exchange == "bitget"
    assert result.balances == {"BTC": Decimal(2), "ETH": Decimal("0.0015"),
                               "USDT": Decimal("12.5"), "USDC": Decimal("0.1")}
    # the total is the sum of the five made-up accounts
    totals = {c: sum(Decimal(a[2][i]) for a in construct.ACCOUNTS)
              for i, c in enumerate(construct.COINS)}
    assert result.root_balances == totals
    assert [s.name for s in result.steps] == ["leaf", "level 1", "level 2", "level 3", "root"]


def test_java_hashmap_order_is_javas() -> None:
    # String.hashCode: "BTC" = 66*31^2 + 84*31 + 67 = 66097; "USDT" = 2614190
    assert por._java_string_hash("BTC") == 66097
    assert por._java_string_hash("USDT") == 2614190
    # Bitget's published sample lists its balances in this order (BTC, ETH, USDT, USDC)
    assert por.java_hashmap_order(["USDC", "USDT", "ETH", "BTC"]) == ["BTC", "ETH", "USDT",
                                                                      "USDC"]


def _forge_bitget_leaf(proof: Json) -> None:
    me = proof["self"]
    me["balances"]["BTC"] = "20"
    me["merkelLeaf"] = por.bitget_leaf_hash(
        me["encryptUid"], me["nonce"], {k: Decimal(v) for k, v in me["balances"].items()})


BITGET_TAMPERS: list[tuple[str, Callable[[Json], None], str]] = [
    ("your balance", _set("self", "balances", "USDT", value="13.5"), "leaf"),
    ("your uid", _set("self", "encryptUid", value="1" * 64), "leaf"),
    ("your balance with the leaf hash recomputed", _forge_bitget_leaf, "root"),
    ("the padding sibling's balance", _set("path", 0, "balances", "BTC", value="1"), "root"),
    ("a sibling hash", _set("path", 2, "merkelLeaf", value="0123456789abcdef"), "root"),
    ("a sibling's role", _set("path", 2, "role", value=3), "level 3"),
    ("the first sibling on your own side", _set("path", 0, "role", value=1), "level 1"),
    ("the root hash", _set("path", 3, "merkelLeaf", value="edd8d63ceccea478"), "root"),
    ("the root's USDC total", _set("path", 3, "balances", "USDC", value="115"), "root"),
    ("the root's level", _set("path", 3, "level", value=2), "root"),
]


@pytest.mark.parametrize(("what", "change", "step"), BITGET_TAMPERS,
                         ids=[t[0] for t in BITGET_TAMPERS])
def test_bitget_tampered_copy_fails_at_the_right_step(
        what: str, change: Callable[[Json], None], step: str) -> None:
    proof = copy.deepcopy(_load(BITGET))
    change(proof)
    result = verify_proof(proof, source="tampered.json")
    assert not result.valid, what
    assert _failed(result) == step


# ---------------------------------------------------------------------------------------------
# BitMEX (tree from BitMEX's own generator; MPL-2.0)


@pytest.mark.parametrize(("account", "sats"), [(1, 1000), (2, 3000), (4, 4_000_000_000)])
def test_bitmex_tree_proves_each_accounts_liability(account: int, sats: int) -> None:
    text = BITMEX.read_text(encoding="utf-8")
    result = verify_proof(parse_proof(text, BITMEX.name), source=BITMEX.name, account=account,
                          account_nonce=BITMEX_NONCES[account])
    # BitMEX's validate_liabilities.py on this file: "Validated 1,000 sats for account 1", ...
    assert result.valid and result.format == "bitmex-liabilities"
    assert result.balances == {"BTC": Decimal(sats) / 10 ** 8}
    assert result.root_balances == {"BTC": Decimal("40.00004")}
    assert result.root_hash.startswith("48a60c6a")
    # the per-proof nonce BitMEX serves to the user gives the same answer
    sub = por.bitmex_sub_nonce(BITMEX_NONCES[account], 100, account).hex()
    again = verify_bitmex_liabilities(text, account=account, nonce=sub)
    assert again.valid and again.balances == result.balances


def _bitmex_line(text: str, line: int, change: Callable[[str, int], tuple[str, int]]) -> str:
    lines = text.splitlines()
    digest, value = lines[line - 1].split(",")
    new_digest, new_value = change(digest, int(value))
    lines[line - 1] = f"{new_digest},{new_value}"
    return "\n".join(lines) + "\n"


# Lines: 1 block height, 2 root, 3-4 level 2, 5-8 level 1, 9-16 leaves. Account 2 owns leaves
# 1 and 3 (lines 10 and 12). Level N recomputes each node of row N from its children, so a
# changed leaf is caught at level 1 and a changed node at its own level.
BITMEX_TAMPERS: list[tuple[str, int, Callable[[str, int], tuple[str, int]], str]] = [
    ("your leaf's amount", 12, lambda d, v: (d, v + 1), "level 1"),
    ("a sibling leaf's hash", 9, lambda d, v: ("0" * 64, v), "level 1"),
    ("a sibling leaf's amount", 11, lambda d, v: (d, v + 100), "level 1"),
    ("a level-1 node's hash", 6, lambda d, v: ("ab" * 32, v), "level 1"),
    ("a level-2 node's amount", 3, lambda d, v: (d, v - 1), "level 2"),
    ("the root hash", 2, lambda d, v: ("cd" * 32, v), "root"),
    ("the root amount", 2, lambda d, v: (d, v + 1), "root"),
]


@pytest.mark.parametrize(("what", "line", "change", "step"), BITMEX_TAMPERS,
                         ids=[t[0] for t in BITMEX_TAMPERS])
def test_bitmex_tampered_copy_fails_at_the_right_step(
        what: str, line: int, change: Callable[[str, int], tuple[str, int]], step: str) -> None:
    text = _bitmex_line(BITMEX.read_text(encoding="utf-8"), line, change)
    result = verify_bitmex_liabilities(text, account=2, account_nonce=BITMEX_NONCES[2])
    assert not result.valid, what
    assert _failed(result) == step


def test_bitmex_wrong_nonce_finds_no_leaf() -> None:
    result = verify_bitmex_liabilities(BITMEX.read_text(encoding="utf-8"), account=3,
                                       account_nonce=BITMEX_NONCES[2])
    assert not result.valid and _failed(result) == "leaf"
    assert result.balances == {"BTC": Decimal(0)}


def test_bitmex_readme_tree_is_consistent_but_holds_no_leaf_of_its_nonces() -> None:
    text = BITMEX_README.read_text(encoding="utf-8")
    _, rows = por.read_bitmex_tree(text)
    for below, row in itertools.pairwise(rows):
        for i, node in enumerate(row):
            assert por.bitmex_parent_hash(below[2 * i], below[2 * i + 1]) == node[0]
            assert below[2 * i][1] + below[2 * i + 1][1] == node[1]
    for account, nonce in BITMEX_NONCES.items():
        result = verify_bitmex_liabilities(text, account=account, account_nonce=nonce)
        assert _failed(result) == "leaf"


@pytest.mark.parametrize(("text", "message"), [
    ("block_height:x\n", r"^t\.csv line 1: must be 'block_height:<number>'"),
    ("block_height:1\nzz,1\n", r"^t\.csv line 2: must be '<64 hex digits>,<satoshis>'"),
    ("block_height:1\n" + f"{'a' * 64},1\n" * 2, r"^t\.csv: a full tree has 2\^n - 1 nodes"),
])
def test_bitmex_unreadable_tree_names_file_and_rule(text: str, message: str) -> None:
    with pytest.raises(ProofError, match=message):
        verify_bitmex_liabilities(text, account=1, account_nonce="0" * 64, source="t.csv")


def test_bitmex_needs_account_and_one_nonce() -> None:
    with pytest.raises(ProofError, match="needs the account number"):
        verify_proof(BITMEX.read_text(encoding="utf-8"), source="p.csv")


# ---------------------------------------------------------------------------------------------
# Formats not verified yet, and unreadable files


def test_binance_zk_sample_is_refused_naming_binances_verifier() -> None:
    proof = _load(REF / "binance" / "user_config.json")
    with pytest.raises(UnsupportedProofError,
                       match=r"^user_config\.json: Binance .* not supported yet.*"
                             r"binance/zkmerkle-proof-of-solvency"):
        detect_format(proof, "user_config.json")


def test_okx_v2_formats_are_refused_naming_okxs_tools() -> None:
    zk = {"index": 0, "account": {"id": "ab", "equity": [], "debt": []},
          "sum_tree_siblings": [], "recursive_tree_siblings": []}
    with pytest.raises(UnsupportedProofError, match=r"okx/proof-of-reserves-v2"):
        detect_format(zk, "p.json")
    with pytest.raises(UnsupportedProofError, match=r"MerkleValidator"):
        detect_format(_load(REF / "okx" / "user_info_file.json"), "user_info_file.json")


@pytest.mark.parametrize("text", ["{", "[1, 2]", '"text"', "{}"])
def test_unreadable_proof_names_the_file(text: str) -> None:
    with pytest.raises(ProofError, match=r"^x\.json: "):
        verify_proof(parse_proof(text, "x.json"), source="x.json")


# ---------------------------------------------------------------------------------------------
# Exhaustive: no single changed field of a valid proof passes


def _bump_digit(text: str) -> str:
    """Change the last digit of a number, or the last character of a hash, to another one."""
    last = text[-1]
    swapped = "1" if last == "0" else "0"
    return text[:-1] + swapped


def _fields(node: Json) -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = [(k,) for k in ("hash", "merkelLeaf", "nonce", "encryptUid")
                                   if isinstance(node.get(k), str)]
    keys += [("balances", coin) for coin in node.get("balances", {})]
    return keys


@pytest.mark.parametrize("sample", [OKX, BITGET], ids=["okx", "bitget"])
def test_every_single_field_change_is_caught(sample: Path) -> None:
    original = _load(sample)
    nodes = [("self",), *(("path", i) for i in range(len(original["path"])))]
    checked = 0
    for where in nodes:
        node: Any = original
        for key in where:
            node = node[key]
        for field in _fields(node):
            proof = copy.deepcopy(original)
            target: Any = proof
            for key in (*where, *field[:-1]):
                target = target[key]
            target[field[-1]] = _bump_digit(target[field[-1]])
            try:
                result = verify_proof(proof, source="t.json")
            except ProofError:
                continue
            assert not result.valid, f"{where} {field} changed and still valid"
            checked += 1
    assert checked > 4 * len(original["path"])


def test_every_single_line_change_of_the_bitmex_tree_is_caught() -> None:
    text = BITMEX.read_text(encoding="utf-8")
    for line in range(2, 17):
        for change in (lambda d, v: (_bump_digit(d), v), lambda d, v: (d, v + 1)):
            tampered = _bitmex_line(text, line, change)
            result = verify_bitmex_liabilities(tampered, account=2,
                                               account_nonce=BITMEX_NONCES[2])
            assert not result.valid, f"line {line} changed and still valid"
