"""Build the constructed Bitget-style proof in tests/reference/por/bitget/ (it is no exchange's).

Run ``python -m tests.addin.por.construct`` to rewrite the file; the tests check that the
committed file is exactly what this builds.

The tree follows Bitget's published rules (README and MerKelTree.java of
github.com/BitgetLimited/proof-of-reserves): leaves at level n + 1 for up to 2^n accounts, the root
at level 1, each parent hashing ``left + right + "," + balances + "," + level``; a row of odd length
is padded with a copy of its last node holding zero balances (role 0).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from addin.por.verify import (
    bitget_leaf_hash,
    bitget_parent_hash,
    java_hashmap_order,
    plain_decimal,
)

TARGET = Path(__file__).resolve().parents[2] / "reference" / "por" / "bitget" / \
    "constructed_proof.json"
AUDIT = "CONSTRUCTED-1"
COINS = ("BTC", "ETH", "USDT", "USDC")
#: (encryptUid, nonce, balances) of five made-up accounts.
ACCOUNTS: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
    (f"{i:064x}", f"{(i * 7919) % 2 ** 256:064x}", amounts) for i, amounts in enumerate((
        ("0.5", "0", "1200.25", "0"),
        ("0", "3.1", "0.00000001", "15"),
        ("1.763", "362", "1077200.2274", "0"),
        ("0.00012635", "0", "0", "99.5"),
        ("2", "0.0015", "12.5", "0.1"),
    ), start=101))
#: The account whose proof is written (index 4: its sibling is the padding node).
WHO = 4

Node = dict[str, Any]


def _balances(values: dict[str, Decimal]) -> dict[str, str]:
    return {k: plain_decimal(values[k]) for k in java_hashmap_order(list(values))}


def build() -> dict[str, Any]:
    leaves: list[Node] = []
    level = 1
    while 2 ** (level - 1) < len(ACCOUNTS):
        level += 1
    for uid, nonce, amounts in ACCOUNTS:
        balances = dict(zip(COINS, map(Decimal, amounts), strict=True))
        leaves.append({"hash": bitget_leaf_hash(uid, nonce, balances), "balances": balances,
                       "level": level, "uid": uid, "nonce": nonce})
    rows = [leaves]
    row = leaves
    while len(row) > 1:
        if len(row) % 2:
            last = row[-1]
            row.append({"hash": last["hash"], "level": last["level"], "pad": True,
                        "balances": dict.fromkeys(last["balances"], Decimal(0))})
        for i, node in enumerate(row):
            # 1 left, 2 right, 0 the padding copy (MerKelTree.createEmptyTreeNode)
            node["role"] = 0 if node.get("pad") else 1 if i % 2 == 0 else 2
        parents = []
        for i in range(0, len(row), 2):
            left, right = row[i], row[i + 1]
            balances = {c: left["balances"][c] + right["balances"][c] for c in left["balances"]}
            parent_level = left["level"] - 1
            parents.append({"hash": bitget_parent_hash(left["hash"], right["hash"], balances,
                                                       parent_level),
                            "balances": balances, "level": parent_level})
        rows.append(parents)
        row = parents

    index = WHO
    me = rows[0][index]
    path = []
    for row in rows[:-1]:
        sibling = row[index ^ 1]
        path.append({"auditId": AUDIT, "balances": _balances(sibling["balances"]),
                     "level": sibling["level"], "merkelLeaf": sibling["hash"],
                     "role": sibling["role"]})
        index //= 2
    root = rows[-1][0]
    path.append({"auditId": AUDIT, "balances": _balances(root["balances"]),
                 "level": root["level"], "merkelLeaf": root["hash"]})
    return {
        "_note": "CONSTRUCTED by perprisk from made-up accounts with its own implementation of "
                 "Bitget's published rules; not an exchange's proof",
        "path": path,
        "self": {"auditId": AUDIT, "balances": _balances(me["balances"]),
                 "encryptUid": me["uid"], "level": me["level"], "merkelLeaf": me["hash"],
                 "nonce": me["nonce"], "role": me["role"]},
    }


def text() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    TARGET.write_text(text(), encoding="utf-8")
    print(f"wrote {TARGET}")
