"""Stripe-looking object ids that encode a table row number (no id -> row dict needed)."""

from __future__ import annotations

import hashlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_BITS = 47
_MASK = (1 << _BITS) - 1
_MUL = 0x5DEECE66D
_MUL_INV = pow(_MUL, -1, 1 << _BITS)
_WIDTH = 8  # 62**8 > 2**47
# base62 digit pairs, least significant digit first: _PAIRS[r] for r in range(62 * 62)
_PAIRS = [ALPHABET[r % 62] + ALPHABET[r // 62] for r in range(62 * 62)]

SHORT_PREFIXES = frozenset({"cus", "si"})
"""Stripe's customer and subscription item ids are short (``cus_Oaxlz8kB0PJWGa``)."""


def _digest(*parts: object) -> int:
    raw = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big")


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(ALPHABET[r])
    return "".join(reversed(out))


def tag(seed: int, *what: object, width: int = 10) -> str:
    """A deterministic base62 string for (seed, what)."""
    return _b62(_digest(seed, *what), width)


class IdCodec:
    """Maps row numbers of one table to ids like ``ch_1Ab3...`` and back."""

    __slots__ = ("_k1", "_k2", "_long", "_tail", "prefix")

    def __init__(self, seed: int, prefix: str) -> None:
        self.prefix = prefix + "_"
        self._long = prefix not in SHORT_PREFIXES
        self._k1 = _digest(seed, prefix, "k1") & _MASK
        self._k2 = _digest(seed, prefix, "k2") & _MASK
        if self._long:
            self._tail = tag(seed, "acct") + tag(seed, prefix, width=5)
        else:
            self._tail = tag(seed, prefix, width=6)

    def encode(self, idx: int) -> str:
        x = (((idx ^ self._k1) * _MUL) + self._k2) & _MASK
        x, a = divmod(x, 3844)
        x, b = divmod(x, 3844)
        x, c = divmod(x, 3844)
        body = _PAIRS[a] + _PAIRS[b] + _PAIRS[c] + _PAIRS[x % 3844]
        if self._long:
            return f"{self.prefix}1{body}{self._tail}"
        return f"{self.prefix}{body}{self._tail}"

    def decode(self, obj_id: str) -> int:
        """Row number for an id, or -1 when the id was not made by this codec."""
        p = self.prefix
        if not obj_id.startswith(p):
            return -1
        body = obj_id[len(p) :]
        if self._long:
            if len(body) != 1 + _WIDTH + len(self._tail) or body[0] != "1":
                return -1
            body = body[1:]
        elif len(body) != _WIDTH + len(self._tail):
            return -1
        if body[_WIDTH:] != self._tail:
            return -1
        x = 0
        try:
            for c in reversed(body[:_WIDTH]):
                x = x * 62 + _INDEX[c]
        except KeyError:
            return -1
        if x > _MASK:
            return -1
        return ((((x - self._k2) & _MASK) * _MUL_INV) & _MASK) ^ self._k1
