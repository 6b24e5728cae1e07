"""The one native extension: the ``hash`` mask's HMAC kernel over OpenSSL (libcrypto).

Everything else is declared in pyproject.toml. The extension is optional: without a C
compiler or OpenSSL headers the install still succeeds and the mask falls back to the
pure-Python path, which gives the same tokens (``make install`` installs the headers).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "gateway.masking._hmac_tokens",
            sources=["gateway/masking/_hmac_tokens.c"],
            libraries=["crypto"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
