"""``id_number_fpe``: resident ID numbers encrypted with FF3-1 (NIST SP 800-38G Rev. 1),
format preserved, reversible by the key holder only.

An 18-character number (GB 11643: 17 digits and a check character) becomes another
valid-looking one: the 17 digits are encrypted as one radix-10 FF3-1 message and the
check character is computed afresh, so the result is 18 characters with a valid
checksum and passes every format check downstream (joins, validators, spreadsheets).
A number whose check character was *wrong* (a typo in the source) keeps its error: the
new check character is off from the right one by as much as the old one was, so
validity is preserved both ways and decryption restores the original exactly (``x``
comes back as ``X``). An old 15-digit number (no check character) encrypts as a
15-digit message under another tweak. Anything else — letters, other lengths — is
masked whole (one ``*`` per character).

Keys. ``fpe_key(case_key)`` = HKDF-SHA256(ikm = the case key, salt = ``FPE_SALT``)
gives an AES-256 key and two 56-bit tweaks. The case key is the broker's
``derive_case_key(mask secret, case_ref)``, so: one person has one pseudonym within a
case (the masked column still joins across sources of the case), unrelated pseudonyms
in other cases, and only a holder of the gateway's mask secret *and* the case reference
can decrypt — ``decrypt_id_number`` is what approved re-identification (issue 15) calls,
and ``reidentify`` does it from the secret and the case reference. The FF3-1 key is
not the ``hash`` key: HKDF with its own salt derives it one way from the case key, so
an FF3-1 key (handed to a re-identification tool, say) reveals neither the case key
nor its tokens; the case key, which never leaves the gateway, derives both.

What an FPE pseudonym does not hide: that two rows of one case hold the same person,
and the pseudonym *looks* like a real ID number (it may even be someone's); the result
header says ``id_number_fpe`` so no one takes it for one.

Per value, not vectorised: FF3-1 is eight AES rounds with big-integer arithmetic per
value, done by the ``ff3`` package in Python. Each distinct value is encrypted once
(dictionary encoding; a register has few repeats, so that saves little on a full
export); ``bench/masking_bench.py`` reports the cost as a ratio to one plain
``pyarrow.compute`` pass over the same values.
"""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from ff3 import FF3Cipher

from gateway.enforcement.masking.kernels import whole
from gateway.enforcement.masking.secret import derive_case_key

FPE_SALT = b"sluice-fpe-ff3-1-v1"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_DIGITS = frozenset("0123456789")
_CHECK_CHARS = frozenset("0123456789Xx")


class FpeKey:
    """The FF3-1 ciphers of one case; the key material never appears in a repr."""

    __slots__ = ("_cipher15", "_cipher18", "_tweak15", "_tweak18")

    def __init__(self, material: bytes) -> None:
        if len(material) != 46:
            raise ValueError("FF3-1 key material is 46 bytes (key and two tweaks)")
        key_hex = material[:32].hex()
        self._tweak18, self._tweak15 = material[32:39].hex(), material[39:46].hex()
        self._cipher18 = FF3Cipher(key_hex, self._tweak18, radix=10)
        self._cipher15 = FF3Cipher(key_hex, self._tweak15, radix=10)

    def __repr__(self) -> str:
        return "FpeKey(<key hidden>)"

    def encrypt(self, value: str) -> str | None:
        """The pseudonym of one ID number; None when it is not a well-formed one."""
        if _shaped_id18(value):
            body = str(self._cipher18.encrypt(value[:17]))
            return body + _recheck(body, _check_error(value))
        if len(value) == 15 and _digits(value):
            return str(self._cipher15.encrypt(value))
        return None

    def decrypt(self, value: str) -> str:
        """The ID number behind a pseudonym; ``ValueError`` for anything that is not one."""
        if _shaped_id18(value):
            body = str(self._cipher18.decrypt(value[:17]))
            return body + _recheck(body, _check_error(value))
        if len(value) == 15 and _digits(value):
            return str(self._cipher15.decrypt(value))
        raise ValueError("not an FF3-1 pseudonym of an ID number")


def _digits(value: str) -> bool:
    return bool(value) and set(value) <= _DIGITS


def _checksum(body: str) -> int:
    return sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11


def check_character(body: str) -> str:
    """The GB 11643 check character of 17 digits (ISO 7064 MOD 11-2)."""
    return _CHECK[_checksum(body)]


def _shaped_id18(value: str) -> bool:
    """17 ASCII digits and a check character (right or not)."""
    return len(value) == 18 and _digits(value[:17]) and value[17] in _CHECK_CHARS


def _check_error(value: str) -> int:
    """How far (mod 11) the check character is from the right one: 0 when valid."""
    return (_CHECK.index(value[17].upper()) - _checksum(value[:17])) % 11


def _recheck(body: str, error: int) -> str:
    return _CHECK[(_checksum(body) + error) % 11]


def is_valid_id18(value: str) -> bool:
    """17 ASCII digits and the right check character (``x`` read as ``X``)."""
    return _shaped_id18(value) and _check_error(value) == 0


@lru_cache(maxsize=64)
def fpe_key(case_key: bytes) -> FpeKey:
    """The FF3-1 key of one case, derived from its case key (kept for the few in use)."""
    if len(case_key) < 16:
        raise ValueError("masking key too short")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=46, salt=FPE_SALT, info=b"id_number")
    return FpeKey(hkdf.derive(case_key))


def encrypt_id_numbers(values: pa.Array, case_key: bytes) -> pa.Array:
    """Pseudonyms of a string array; nulls stay null, ``""`` stays ``""``, malformed
    values are masked whole."""
    key = fpe_key(case_key)
    encoded = values.dictionary_encode()  # a null value gets a null index
    distinct: list[str] = encoded.dictionary.to_pylist()
    encrypted = pa.array([key.encrypt(v) for v in distinct], values.type)
    dictionary = pc.coalesce(encrypted, whole(encoded.dictionary))
    return pc.take(dictionary, encoded.indices)


def decrypt_id_number(value: str, case_key: bytes) -> str:
    """The ID number behind one pseudonym of the case whose key this is."""
    return fpe_key(case_key).decrypt(value)


def reidentify(value: str, *, secret: bytes, case_ref: str) -> str:
    """Approved re-identification: the ID number behind a pseudonym a query of case
    ``case_ref`` returned, from the gateway's mask secret (``load_mask_secret``)."""
    return decrypt_id_number(value, derive_case_key(secret, case_ref))
