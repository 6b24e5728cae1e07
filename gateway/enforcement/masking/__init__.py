"""Masking of Arrow data, vectorised: the methods of ``catalog.vocabulary.MaskMethod``.

``mask_batch(batch, {column: method}, hash_key=derive_case_key(load_mask_secret(home),
case_ref))`` is what the broker calls; ``hash_token`` gives the token of one value, to
compare a ``tk_`` filter value with a masked column.
"""

from gateway.enforcement.masking.apply import mask_array, mask_batch, needs_case_key
from gateway.enforcement.masking.fpe import decrypt_id_number, reidentify
from gateway.enforcement.masking.secret import derive_case_key, load_mask_secret
from gateway.enforcement.masking.tokens import hash_token

__all__ = [
    "decrypt_id_number", "derive_case_key", "hash_token", "load_mask_secret", "mask_array",
    "mask_batch", "needs_case_key", "reidentify",
]  # fmt: skip
