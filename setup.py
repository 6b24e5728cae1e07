"""The native extensions: the ``hash`` mask's HMAC kernel over OpenSSL (libcrypto),
single-pass kernels for the partial masks and the ``bucket`` mask, and the policy
input's push onto rego-cpp's builder (``policies/_rego_native.c``: one C call per
decision instead of one ctypes call per value).

Everything else is declared in pyproject.toml. The extension is optional: without a C
compiler or OpenSSL headers the install still succeeds and the mask falls back to the
pure-Python or vectorised path (the policy input: its ctypes path), which gives the
same results (``make install`` installs the OpenSSL headers).
"""

from setuptools import Extension, setup

# ``make sanitize`` builds these same extensions with ASan/UBSan (tests/sanitizer/build.py
# reads this list), so the sanitizer run checks exactly what ships.
NATIVE_EXTENSIONS = [
    Extension(
        "gateway.enforcement.masking._hmac_tokens",
        sources=["gateway/enforcement/masking/_hmac_tokens.c"],
        depends=["gateway/enforcement/masking/_arrow_offsets.h"],
        libraries=["crypto"],
        extra_compile_args=["-O3"],
        optional=True,
    ),
    Extension(
        "gateway.enforcement.masking._partial_masks",
        sources=["gateway/enforcement/masking/_partial_masks.c"],
        depends=["gateway/enforcement/masking/_arrow_offsets.h"],
        extra_compile_args=["-O3"],
        optional=True,
    ),
    Extension(
        "gateway.enforcement.masking._amount_masks",
        sources=["gateway/enforcement/masking/_amount_masks.c"],
        extra_compile_args=["-O3"],
        optional=True,
    ),
    Extension(
        "policies._rego_native",
        sources=["policies/_rego_native.c"],
        extra_compile_args=["-O3"],
        optional=True,
    ),
]

if __name__ == "__main__":  # setuptools' build backend runs this file as __main__
    setup(ext_modules=NATIVE_EXTENSIONS)
