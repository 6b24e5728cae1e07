"""The native extensions: the ``hash`` mask's HMAC kernel over OpenSSL (libcrypto) and
single-pass kernels for two partial masks.

Everything else is declared in pyproject.toml. The extension is optional: without a C
compiler or OpenSSL headers the install still succeeds and the mask falls back to the
pure-Python or vectorised path, which gives the same results (``make install`` installs
the OpenSSL headers).
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
]

if __name__ == "__main__":  # setuptools' build backend runs this file as __main__
    setup(ext_modules=NATIVE_EXTENSIONS)
