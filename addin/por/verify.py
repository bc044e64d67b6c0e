"""Check a user's proof-of-reserves inclusion proof against the root an exchange published.

Pure functions: a proof goes in (parsed JSON or the text of a published tree), a
:class:`Verification` comes out. Nothing here reads the network or the clock.

Formats
-------
``okx-merkle-v1``
    OKX's SHA-256 Merkle sum tree, 22 Nov 2022 to 16 Mar 2023 (``merkle_proof_file.json``,
    ``{"self": ..., "path": [...]}``). Leaf
    ``sha256(nonce + '{"BTC":"..","ETH":"..","USDT":".."}')``, parent
    ``sha256(left + right + BTC + ETH + USDT + height)`` over balances summed and rounded
    down to 8 decimals. Follows ``common/merkle.go`` of github.com/okx/proof-of-reserves (MIT).
``bitget-merkle``
    Bitget's SHA-256 Merkle sum tree (``merkel_tree_bg.json``). Leaf
    ``sha256(encryptUid + "," + nonce + "," + balances JSON)[:16]``, parent
    ``sha256(left + right + "," + balances JSON + "," + level)[:16]``; levels count down to the
    root at level 1. Follows ``MerkelTreeUtils.java`` and ``MerKelTree.java`` of
    github.com/BitgetLimited/proof-of-reserves.
``bitmex-liabilities``
    BitMEX's proof of liabilities: the whole tree published as text, root first, with the
    user's nonce. Leaf ``HMAC-SHA256(sub_nonce, value || index)``, parent
    ``sha256(l_digest || l_value || r_digest || r_value)`` (values unsigned 64-bit little endian,
    satoshis); ``sub_nonce = sha256(account_nonce || block_height || account)``. Follows
    ``validate_liabilities.py`` of github.com/BitMEX/proof-of-reserves-liabilities (MPL-2.0).

Binance's and OKX's zero-knowledge proofs (Poseidon hashes) are recognised and refused with
the name of the exchange's own verifier (:class:`UnsupportedProofError`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, Literal

from riskfuncs.counterparty import reserve_subscore

Format = Literal["okx-merkle-v1", "bitget-merkle", "bitmex-liabilities"]

FORMAT_TITLES: dict[str, str] = {
    "okx-merkle-v1": "OKX Merkle sum tree (2022-23)",
    "bitget-merkle": "Bitget Merkle sum tree",
    "bitmex-liabilities": "BitMEX proof of liabilities",
}
FORMAT_EXCHANGES: dict[str, str] = {
    "okx-merkle-v1": "okx",
    "bitget-merkle": "bitget",
    "bitmex-liabilities": "bitmex",
}

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_EIGHT_PLACES = Decimal("0.00000001")
_UINT64 = struct.Struct("<Q")


class ProofError(ValueError):
    """The proof cannot be read (exit 2): the first line names the file and the rule."""


class UnsupportedProofError(ProofError):
    """A proof format perprisk recognises but does not verify yet; names the exchange's tool."""


@dataclass(frozen=True)
class Step:
    """One check on the way from the leaf to the root."""

    name: str  #: ``leaf``, ``level N`` (N counted up from the leaf) or ``root``
    ok: bool
    detail: str


@dataclass(frozen=True)
class Verification:
    """What a proof shows: valid or not, the first step that failed, balances and root."""

    format: str
    exchange: str
    valid: bool
    steps: tuple[Step, ...]
    balances: dict[str, Decimal]  #: the user's own balances in the tree
    root_hash: str
    root_balances: dict[str, Decimal]  #: the tree's total (customer liabilities)
    audit_id: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form; decimals are written as strings so no digit is lost."""
        failed = self.failed_step
        return {
            "format": self.format,
            "exchange": self.exchange,
            "valid": self.valid,
            "failed_step": failed.name if failed else None,
            "reason": failed.detail if failed else None,
            "audit_id": self.audit_id or None,
            "balances": {k: plain_decimal(v) for k, v in self.balances.items()},
            "root": {"hash": self.root_hash,
                     "balances": {k: plain_decimal(v) for k, v in self.root_balances.items()}},
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in self.steps],
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------------------
# Reading and recognising


def parse_proof(text: str, source: str) -> Any:
    """The proof's content: parsed JSON, or the text itself for a BitMEX tree."""
    stripped = text.lstrip("\ufeff").strip()
    if stripped.startswith("block_height:"):
        return stripped
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise ProofError(f"{source}: not JSON and not a BitMEX liabilities tree "
                         f"(line {exc.lineno}: {exc.msg})") from None


def detect_format(proof: Any, source: str = "proof") -> Format:
    """Which exchange format ``proof`` is in; raises :class:`UnsupportedProofError` or
    :class:`ProofError` for anything else."""
    if isinstance(proof, str) and proof.startswith("block_height:"):
        return "bitmex-liabilities"
    if isinstance(proof, Mapping):
        keys = set(proof)
        if {"self", "path"} <= keys and isinstance(proof["self"], Mapping):
            me = proof["self"]
            if "encryptUid" in me or "merkelLeaf" in me:
                return "bitget-merkle"
            if "hash" in me and "nonce" in me:
                return "okx-merkle-v1"
        if {"AccountIdHash", "Proof", "Root"} <= keys:
            raise UnsupportedProofError(
                f"{source}: Binance zk-SNARK proof (Poseidon over BN254) is not supported yet; "
                "verify it with Binance's verifier, github.com/binance/zkmerkle-proof-of-solvency "
                "(src/verifier, 'go run main.go -user')")
        if {"sum_tree_siblings", "recursive_tree_siblings"} <= keys:
            raise UnsupportedProofError(
                f"{source}: OKX zk proof of reserves v2 (Poseidon over Goldilocks) is not "
                "supported yet; verify it with OKX's verifier, github.com/okx/proof-of-reserves-v2 "
                "('zk-por-cli verify-user')")
        if {"nodes", "nonce", "totalBalances"} <= keys:
            raise UnsupportedProofError(
                f"{source}: OKX Merkle tree v2 user file (from 16 Mar 2023) needs the full "
                "liabilities tree and is not supported yet; verify it with OKX's MerkleValidator, "
                "github.com/okx/proof-of-reserves ('--merkle_file ... --user_info_file ...')")
    raise ProofError(f"{source}: not a known proof format (expected OKX's or Bitget's "
                     "{\"self\", \"path\"} JSON, or a BitMEX liabilities tree)")


def verify_proof(proof: Any, *, source: str = "proof", account: int | None = None,
                 nonce: str | None = None, account_nonce: str | None = None) -> Verification:
    """Verify a parsed proof in whichever supported format it is.

    ``account`` with ``nonce`` or ``account_nonce`` are needed for BitMEX only.
    """
    kind = detect_format(proof, source)
    if kind == "okx-merkle-v1":
        return verify_okx_merkle(proof, source=source)
    if kind == "bitget-merkle":
        return verify_bitget_merkle(proof, source=source)
    if account is None or (nonce is None) == (account_nonce is None):
        raise ProofError(f"{source}: a BitMEX liabilities tree needs the account number and "
                         "either its nonce for this proof or the account nonce")
    return verify_bitmex_liabilities(str(proof), account=account, nonce=nonce,
                                     account_nonce=account_nonce, source=source)


# ---------------------------------------------------------------------------------------------
# Shared helpers


def plain_decimal(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: ``1.50`` -> ``1.5``, ``1E+2`` -> ``100``."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ProofError(f"{where}: a balance must be a number (got {value!r})")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ProofError(f"{where}: a balance must be a number (got {value!r})") from None
    if not number.is_finite():
        raise ProofError(f"{where}: a balance must be finite (got {value!r})")
    return number


def _balances(node: Mapping[str, Any], where: str) -> dict[str, Decimal]:
    raw = node.get("balances")
    if not isinstance(raw, Mapping) or not raw:
        raise ProofError(f"{where}: balances must be an object of coin amounts")
    return {str(k): _decimal(v, f"{where} {k}") for k, v in raw.items()}


def _node(proof: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = proof.get(key)
    if not isinstance(value, Mapping):
        raise ProofError(f"{source}: '{key}' must be an object")
    return value


def _path(proof: Mapping[str, Any], source: str) -> list[Mapping[str, Any] | None]:
    path = proof.get("path")
    if not isinstance(path, list) or len(path) < 2:
        raise ProofError(f"{source}: 'path' must list the siblings and then the root")
    for i, item in enumerate(path):
        if item is not None and not isinstance(item, Mapping):
            raise ProofError(f"{source}: path entry {i + 1} must be an object")
    return list(path)


def _text(node: Mapping[str, Any], key: str, where: str) -> str:
    value = node.get(key)
    if not isinstance(value, str) or not value:
        raise ProofError(f"{where}: '{key}' must be a non-empty string")
    return value


def _integer(node: Mapping[str, Any], key: str, where: str) -> int:
    value = node.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProofError(f"{where}: '{key}' must be a whole number (got {value!r})")
    return value


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _short(digest: str) -> str:
    return digest if len(digest) <= 16 else f"{digest[:12]}…"


def _differences(computed: Mapping[str, Decimal], published: Mapping[str, Decimal]) -> str:
    coins = list(dict.fromkeys([*computed, *published]))
    return ", ".join(f"{c} {plain_decimal(computed.get(c, Decimal(0)))} computed vs "
                     f"{plain_decimal(published.get(c, Decimal(0)))} published" for c in coins
                     if computed.get(c, Decimal(0)) != published.get(c, Decimal(0)))


def _result(kind: Format, steps: list[Step], balances: dict[str, Decimal], root_hash: str,
            root_balances: dict[str, Decimal], audit_id: str = "",
            notes: Sequence[str] = ()) -> Verification:
    return Verification(format=kind, exchange=FORMAT_EXCHANGES[kind],
                        valid=all(s.ok for s in steps), steps=tuple(steps), balances=balances,
                        root_hash=root_hash, root_balances=root_balances, audit_id=audit_id,
                        notes=tuple(notes))


def _leaf_step(leaf: str, stated: str, balances: Mapping[str, Decimal], recipe: str,
               shown: Callable[[str], str]) -> Step:
    """The first check of a Merkle sum proof: the user's leaf, hashed from their balances as
    ``recipe`` says, is the one the proof states, and no balance is negative."""
    if leaf != stated:
        return Step("leaf", False, f"{recipe} is {shown(leaf)}, the proof says {shown(stated)}: "
                                   "your balances or nonce were changed")
    if min(balances.values()) < 0:
        return Step("leaf", False, "a balance is negative")
    return Step("leaf", True, f"hash {shown(leaf)} matches your balances")


def _stop_after_failure(steps: list[Step]) -> bool:
    return bool(steps) and not steps[-1].ok


# ---------------------------------------------------------------------------------------------
# OKX, 2022-23


_OKX_COINS = ("BTC", "ETH", "USDT")


def _okx_balances(node: Mapping[str, Any], where: str) -> tuple[dict[str, str], dict[str, Decimal]]:
    raw = node.get("balances")
    if not isinstance(raw, Mapping) or any(not isinstance(raw.get(c), str) for c in _OKX_COINS):
        raise ProofError(f"{where}: balances must give BTC, ETH and USDT as strings")
    texts = {c: str(raw[c]) for c in _OKX_COINS}
    return texts, {c: _decimal(texts[c], f"{where} {c}") for c in _OKX_COINS}


def _okx_leaf_hash(nonce: str, texts: Mapping[str, str]) -> str:
    # common/merkle.go Balances.String(): the strings exactly as published, in this order.
    body = "{" + ",".join(f'"{c}":"{texts[c]}"' for c in _OKX_COINS) + "}"
    return _sha256_hex(nonce + body)


def _okx_sum(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> dict[str, Decimal]:
    # shopspring decimal Add(...).RoundDown(8).String()
    return {c: (a[c] + b[c]).quantize(_EIGHT_PLACES, rounding=ROUND_DOWN) for c in _OKX_COINS}


def verify_okx_merkle(proof: Mapping[str, Any], *, source: str = "proof") -> Verification:
    """Verify an OKX 2022-23 ``merkle_proof_file.json``.

    The checks of OKX's ``MerkleProof.Validate`` (common/merkle.go), in order: the leaf hash;
    each sibling well formed (type 1 left or 2/4 right, its height, non-negative balances; the
    height-1 sibling's own leaf hash when it carries its nonce); then the recomputed root's
    hash, balances and height against the published root.
    """
    me = _node(proof, "self", source)
    path = _path(proof, source)
    if any(p is None for p in path):
        raise ProofError(f"{source}: OKX path entries must be objects")
    siblings = [p for p in path[:-1] if p is not None]
    root = path[-1]
    assert root is not None
    nonce = _text(me, "nonce", f"{source} self")
    my_hash = _text(me, "hash", f"{source} self").lower()
    my_type = _integer(me, "type", f"{source} self")
    texts, balances = _okx_balances(me, f"{source} self")
    root_hash = _text(root, "hash", f"{source} root").lower()
    _, root_balances = _okx_balances(root, f"{source} root")
    audit = str(me.get("auditId") or "")

    steps = [_leaf_step(_okx_leaf_hash(nonce, texts), my_hash, balances,
                        "sha256(nonce + balances)", _short)]
    if _stop_after_failure(steps):
        return _result("okx-merkle-v1", steps, balances, root_hash, root_balances, audit)

    node_hash, node_balances, node_type = my_hash, balances, my_type
    height = 1
    for level, sib in enumerate(siblings, start=1):
        where = f"{source} path {level}"
        sib_hash = _text(sib, "hash", where).lower()
        sib_type = _integer(sib, "type", where)
        sib_height = _integer(sib, "height", where)
        sib_texts, sib_balances = _okx_balances(sib, where)
        problem = ""
        if not _HEX.match(sib_hash) or len(sib_hash) != 64:
            problem = "the sibling hash is not 64 hex digits"
        elif sib_type not in (1, 2, 4):
            problem = f"the sibling's type must be 1 (left), 2 or 4 (right) (got {sib_type})"
        elif level == 1 and sib_type == node_type:
            problem = f"your node and its sibling are both type {sib_type}"
        elif sib_height != height:
            problem = f"the sibling is at height {sib_height}, expected {height}"
        elif min(sib_balances.values()) < 0:
            problem = "a sibling balance is negative"
        elif level == 1 and isinstance(sib.get("nonce"), str) and \
                _okx_leaf_hash(str(sib["nonce"]), sib_texts) != sib_hash:
            problem = "the sibling leaf's hash does not match its balances and nonce"
        if problem:
            steps.append(Step(f"level {level}", False, problem))
            break
        # The first step sides by your node's type, later ones by the sibling's (merkle.go).
        left_is_sibling = node_type != 1 if level == 1 else sib_type == 1
        left, right = (sib_hash, node_hash) if left_is_sibling else (node_hash, sib_hash)
        node_balances = _okx_sum(node_balances, sib_balances)
        height = sib_height + 1
        node_hash = _sha256_hex(left + right + "".join(plain_decimal(node_balances[c])
                                                       for c in _OKX_COINS) + str(height))
        steps.append(Step(f"level {level}", True, f"parent {_short(node_hash)} at height {height}"))
    if _stop_after_failure(steps):
        return _result("okx-merkle-v1", steps, balances, root_hash, root_balances, audit)

    root_height = _integer(root, "height", f"{source} root")
    if node_hash != root_hash:
        steps.append(Step("root", False, f"recomputed root {_short(node_hash)} differs from the "
                                         f"published root {_short(root_hash)}"))
    elif node_balances != root_balances:
        steps.append(Step("root", False, "root balances differ: "
                                         + _differences(node_balances, root_balances)))
    elif height != root_height:
        steps.append(Step("root", False, f"the root is at height {root_height}, the path "
                                         f"reaches {height}"))
    else:
        steps.append(Step("root", True, f"recomputed root equals the published root "
                                        f"{_short(root_hash)}"))
    return _result("okx-merkle-v1", steps, balances, root_hash, root_balances, audit)


# ---------------------------------------------------------------------------------------------
# Bitget


def _java_string_hash(text: str) -> int:
    """``String.hashCode()``: ``s[0]*31^(n-1) + ... + s[n-1]`` over UTF-16 code units, 32 bits."""
    data = text.encode("utf-16-be")
    value = 0
    for i in range(0, len(data), 2):
        value = (31 * value + int.from_bytes(data[i:i + 2], "big")) & 0xFFFFFFFF
    return value


def java_hashmap_order(keys: Sequence[str]) -> list[str]:
    """The order a fresh ``java.util.HashMap`` built from ``keys`` iterates in (bucket by
    bucket, insertion order within a bucket): the order Bitget's fastjson writes balances in.

    >>> java_hashmap_order(["USDT", "BTC", "USDC", "ETH"])
    ['BTC', 'ETH', 'USDT', 'USDC']
    """
    capacity = 16
    while len(keys) > capacity * 0.75:
        capacity *= 2

    def bucket(key: str) -> int:
        h = _java_string_hash(key)
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(dict.fromkeys(keys), key=bucket)


def bitget_balances_json(balances: Mapping[str, Decimal]) -> str:
    """Balances as Bitget's ``JSONUtils.toJSONString`` writes them: Java HashMap key order,
    each amount a string without trailing zeros.

    >>> bitget_balances_json({"BTC": Decimal("1.7630"), "USDT": Decimal("0E-8")})
    '{"BTC":"1.763","USDT":"0"}'
    """
    return "{" + ",".join(f'"{k}":"{plain_decimal(balances[k])}"'
                          for k in java_hashmap_order(list(balances))) + "}"


def bitget_leaf_hash(encrypt_uid: str, nonce: str, balances: Mapping[str, Decimal]) -> str:
    """``sha256(encryptUid + "," + nonce + "," + balances JSON)``, first 16 hex digits."""
    return _sha256_hex(f"{encrypt_uid},{nonce},{bitget_balances_json(balances)}")[:16]


def bitget_parent_hash(left: str, right: str, balances: Mapping[str, Decimal], level: int) -> str:
    """``sha256(left + right + "," + balances JSON + "," + level)``, first 16 hex digits."""
    return _sha256_hex(f"{left}{right},{bitget_balances_json(balances)},{level}")[:16]


def _merge(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> dict[str, Decimal]:
    out = dict(a)
    for coin, amount in b.items():
        out[coin] = out.get(coin, Decimal(0)) + amount
    return out


def verify_bitget_merkle(proof: Mapping[str, Any], *, source: str = "proof") -> Verification:
    """Verify a Bitget ``merkel_tree_bg.json``.

    The checks of Bitget's ``BgMerkleValidator``: the leaf hash; each sibling well formed (role
    1 left, 2 right or 0 empty padding, level >= 1, balances given); the parent's level is the
    left child's minus one; then the recomputed root's hash, balances and level.
    """
    me = _node(proof, "self", source)
    path = _path(proof, source)
    root = path[-1]
    if root is None:
        raise ProofError(f"{source}: the last path entry must be the root")
    where = f"{source} self"
    uid = _text(me, "encryptUid", where)
    nonce = _text(me, "nonce", where)
    my_hash = _text(me, "merkelLeaf", where).lower()
    my_level = _integer(me, "level", where)
    my_role = _integer(me, "role", where)
    balances = _balances(me, where)
    root_hash = _text(root, "merkelLeaf", f"{source} root").lower()
    root_balances = _balances(root, f"{source} root")
    audit = str(me.get("auditId") or "")

    steps = [_leaf_step(bitget_leaf_hash(uid, nonce, balances), my_hash, balances,
                        "sha256(uid, nonce, balances)", str)]
    if _stop_after_failure(steps):
        return _result("bitget-merkle", steps, balances, root_hash, root_balances, audit)

    node_hash, node_balances, node_level = my_hash, balances, my_level
    for level, sib in enumerate(path[:-1], start=1):
        name = f"level {level}"
        at = f"{source} path {level}"
        if sib is None:
            raise ProofError(f"{at}: must be an object")
        sib_hash = _text(sib, "merkelLeaf", at).lower()
        sib_level = _integer(sib, "level", at)
        sib_role = _integer(sib, "role", at)
        sib_balances = _balances(sib, at)
        problem = ""
        if not _HEX.match(sib_hash):
            problem = "the sibling hash is not hexadecimal"
        elif sib_role not in (0, 1, 2):
            problem = f"the sibling's role must be 0, 1 or 2 (got {sib_role})"
        elif level == 1 and sib_role == my_role:
            problem = f"your node and its sibling both have role {sib_role}"
        elif sib_level < 1:
            problem = f"the sibling's level must be >= 1 (got {sib_level})"
        elif min(sib_balances.values(), default=Decimal(0)) < 0:
            problem = "a sibling balance is negative"
        if problem:
            steps.append(Step(name, False, problem))
            break
        if sib_role == 1:
            left, left_level, right = sib_hash, sib_level, node_hash
            node_balances = _merge(sib_balances, node_balances)
        else:
            left, left_level, right = node_hash, node_level, sib_hash
            node_balances = _merge(node_balances, sib_balances)
        node_level = left_level - 1
        node_hash = bitget_parent_hash(left, right, node_balances, node_level)
        steps.append(Step(name, True, f"parent {node_hash} at Bitget level {node_level}"))
    if _stop_after_failure(steps):
        return _result("bitget-merkle", steps, balances, root_hash, root_balances, audit)

    root_level = _integer(root, "level", f"{source} root")
    if node_hash != root_hash:
        steps.append(Step("root", False, f"recomputed root {node_hash} differs from the "
                                         f"published root {root_hash}"))
    elif any(root_balances.get(c) != v for c, v in node_balances.items()):
        steps.append(Step("root", False, "root balances differ: "
                                         + _differences(node_balances, root_balances)))
    elif node_level != root_level:
        steps.append(Step("root", False, f"the root is at level {root_level}, the path reaches "
                                         f"{node_level}"))
    else:
        steps.append(Step("root", True, f"recomputed root equals the published root {root_hash}"))
    return _result("bitget-merkle", steps, balances, root_hash, root_balances, audit)


# ---------------------------------------------------------------------------------------------
# BitMEX


def bitmex_sub_nonce(account_nonce: str, block_height: int, account: int) -> bytes:
    """``sha256(account_nonce || block_height || account)`` (both numbers u64 little endian)."""
    return hashlib.sha256(bytes.fromhex(account_nonce) + _UINT64.pack(block_height)
                          + _UINT64.pack(account)).digest()


def bitmex_leaf_hash(value: int, sub_nonce: bytes, index: int) -> bytes:
    """``HMAC-SHA256(sub_nonce, value || leaf_index)``."""
    return hmac.new(sub_nonce, _UINT64.pack(value) + _UINT64.pack(index), hashlib.sha256).digest()


def bitmex_parent_hash(left: tuple[bytes, int], right: tuple[bytes, int]) -> bytes:
    """``sha256(l_digest || l_value || r_digest || r_value)``."""
    return hashlib.sha256(left[0] + _UINT64.pack(left[1]) + right[0]
                          + _UINT64.pack(right[1])).digest()


def read_bitmex_tree(text: str, source: str = "proof") -> tuple[int, list[list[tuple[bytes, int]]]]:
    """(block height, rows leaves first) from the published tree text (root first, then each
    row left to right)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    label, _, value = lines[0].partition(":")
    if label != "block_height" or not value.strip().isdigit():
        raise ProofError(f"{source} line 1: must be 'block_height:<number>'")
    nodes: list[tuple[bytes, int]] = []
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split(",")
        if len(parts) != 2 or not _HEX.match(parts[0]) or len(parts[0]) != 64 \
                or not parts[1].strip().isdigit() or int(parts[1]) >= 2 ** 64:
            raise ProofError(f"{source} line {number}: must be '<64 hex digits>,<satoshis>'")
        nodes.append((bytes.fromhex(parts[0]), int(parts[1])))
    count = len(nodes) + 1
    if len(nodes) == 0 or count & (count - 1):
        raise ProofError(f"{source}: a full tree has 2^n - 1 nodes (got {len(nodes)})")
    rows: list[list[tuple[bytes, int]]] = []
    start, size = 0, 1
    while start < len(nodes):
        rows.append(nodes[start:start + size])
        start, size = start + size, size * 2
    rows.reverse()
    return int(value), rows


def verify_bitmex_liabilities(text: str, *, account: int, nonce: str | None = None,
                              account_nonce: str | None = None,
                              source: str = "proof") -> Verification:
    """Verify a BitMEX liabilities tree for one account.

    ``nonce`` is the per-proof nonce BitMEX shows the user (hex); ``account_nonce`` the
    account's lifetime nonce, from which the per-proof one is derived. The leaf step finds the
    leaves whose HMAC matches; level N then recomputes every node of row N of the whole
    published tree (hash and sum) from its children, so a changed node fails at its own level
    and a changed leaf at level 1; the root step recomputes the root. Amounts are satoshis,
    reported in BTC.
    """
    height, rows = read_bitmex_tree(text, source)
    if account < 0 or account >= 2 ** 64:
        raise ProofError(f"{source}: the account must be a number from 0 to 2^64-1 "
                         f"(got {account})")
    secret = nonce if nonce is not None else account_nonce
    if secret is None or not _HEX.match(secret) or len(secret) != 64:
        raise ProofError(f"{source}: the nonce must be 64 hex digits")
    key = bytes.fromhex(secret) if nonce is not None else \
        bitmex_sub_nonce(secret, height, account)
    root = rows[-1][0]
    sats = Decimal("0.00000001")
    root_balances = {"BTC": root[1] * sats}
    mine = [i for i, (digest, value) in enumerate(rows[0])
            if bitmex_leaf_hash(value, key, i) == digest]
    balances = {"BTC": sum(rows[0][i][1] for i in mine) * sats}
    notes = [f"block height {height}", f"your leaves: {', '.join(map(str, mine)) or 'none'}"]
    steps: list[Step] = []
    if not mine:
        steps.append(Step("leaf", False, f"no leaf of the {len(rows[0])} matches account "
                                         f"{account} with this nonce"))
        return _result("bitmex-liabilities", steps, balances, root[0].hex(), root_balances,
                       notes=notes)
    steps.append(Step("leaf", True, f"{len(mine)} of {len(rows[0])} leaves are yours"))
    for level in range(1, len(rows)):
        below, row = rows[level - 1], rows[level]
        name = "root" if level == len(rows) - 1 else f"level {level}"
        for i, (digest, value) in enumerate(row):
            left, right = below[2 * i], below[2 * i + 1]
            if left[1] + right[1] != value:
                steps.append(Step(name, False, f"node {i} holds {value} sat, its children sum "
                                               f"to {left[1] + right[1]}"))
                break
            if bitmex_parent_hash(left, right) != digest:
                steps.append(Step(name, False, f"node {i}'s hash {_short(digest.hex())} is not "
                                               "the hash of its children"))
                break
        else:
            steps.append(Step(name, True, f"{len(row)} node(s) recomputed"))
        if _stop_after_failure(steps):
            break
    return _result("bitmex-liabilities", steps, balances, root[0].hex(), root_balances,
                   notes=notes)


# ---------------------------------------------------------------------------------------------
# The scorecard


def scorecard_row(result: Verification, *, reserve_ratio: float | None = None,
                  attested_on: date | None = None, today: date | None = None,
                  exchange: str | None = None) -> dict[str, Any]:
    """A scorecard row fragment for ``perprisk fill --exchanges`` from a verification.

    A verified inclusion with the reserve ratio published with it (reserves / customer
    liabilities, 1.0 = 100 %) and the snapshot date gives the proof-of-reserves sub-score,
    ``riskfuncs.counterparty.reserve_subscore(ratio, days since the snapshot)``. A failed proof
    scores 0 and carries a red alert. Without a ratio or date the sub-score is left out (the
    row then says why), so a fill never takes a guess for a checked fact.

    >>> from datetime import date
    >>> ok = Verification("okx-merkle-v1", "okx", True, (), {}, "ab", {})
    >>> scorecard_row(ok, reserve_ratio=1.02, attested_on=date(2026, 11, 20),
    ...               today=date(2026, 12, 1))["proof_of_reserves"]
    1.0
    """
    failed = result.failed_step
    row: dict[str, Any] = {
        "exchange": exchange or result.exchange,
        "proof_of_reserves_verified": result.valid,
        # the Exchange Scorecard's column: verified or failed
        "proof_of_reserves_checked": "verified" if result.valid else "failed",
        "proof_of_reserves_format": result.format,
        "proof_of_reserves_root": result.root_hash,
    }
    if attested_on is not None:
        row["proof_of_reserves_date"] = attested_on.isoformat()
    if reserve_ratio is not None:
        row["reserve_ratio"] = reserve_ratio
    if not result.valid:
        row["proof_of_reserves"] = 0.0
        row["alert"] = "red"
        row["alert_reason"] = (f"proof of reserves failed at {failed.name}: {failed.detail}"
                               if failed else "proof of reserves failed")
        row["proof_of_reserves_failed_at"] = (f"{failed.name}: {failed.detail}" if failed
                                              else "")
        return row
    if reserve_ratio is None or attested_on is None or today is None:
        row["proof_of_reserves_note"] = ("inclusion verified; give the published reserve ratio "
                                         "and snapshot date for the sub-score")
        return row
    days = (today - attested_on).days
    if days < 0:
        raise ValueError(f"attested_on must not be after today (got {attested_on.isoformat()})")
    row["days_since_attestation"] = days
    # rounded to 6 places so a cell shows 0.5, not 0.4999999999999994
    row["proof_of_reserves"] = round(float(reserve_subscore(reserve_ratio, days)), 6)
    return row


def merge_scorecard(rows: Sequence[Mapping[str, Any]],
                    fragment: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``rows`` with ``fragment`` laid over the row of the same exchange (appended if none)."""
    out = [dict(r) for r in rows]
    for row in out:
        if str(row.get("exchange", "")).lower() == str(fragment["exchange"]).lower():
            row.update(fragment)
            return out
    out.append(dict(fragment))
    return out
