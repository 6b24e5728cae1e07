/*
 * Native kernel of the ``hash`` mask: "tk_" + the first 24 hex digits of
 * HMAC-SHA256(key, value) for every value of an Arrow string array, with the GIL
 * released. Python's hashlib costs ~570 ns per value in object work around OpenSSL;
 * here the keyed inner and outer SHA-256 states are computed once per call (RFC 2104)
 * and each value costs two state copies and two compressions in OpenSSL (SHA-NI).
 *
 * The Python fallback (gateway/masking/tokens.py) gives the same tokens; the tests
 * compare both on random and hostile values.
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_* are the cheapest way to copy a state */
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "_arrow_offsets.h"
#include <stdint.h>
#include <string.h>

#define TOKEN_BYTES 12 /* 96 bits */
#define TOKEN_CHARS (3 + 2 * TOKEN_BYTES)

static const char HEX[] = "0123456789abcdef";

/* tokens(key_block: bytes[64], offsets: buffer, data: buffer, first: int, count: int,
 *        wide_offsets: bool) -> bytes of count * 27 characters */
static PyObject *tokens(PyObject *self, PyObject *args) {
    Py_buffer key, offsets, data;
    Py_ssize_t first, count;
    int wide;
    if (!PyArg_ParseTuple(args, "y*y*y*nnp", &key, &offsets, &data, &first, &count, &wide))
        return NULL;
    PyObject *out = NULL;
    if (key.len != SHA256_CBLOCK || !offsets_cover(offsets.len, wide, first, count)) {
        PyErr_SetString(PyExc_ValueError, "bad key block or offsets");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, count * TOKEN_CHARS);
    if (out == NULL)
        goto done;
    char *dst = PyBytes_AS_STRING(out);
    const unsigned char *bytes = data.buf;
    const unsigned char *k = key.buf;
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    unsigned char block[SHA256_CBLOCK], inner_digest[SHA256_DIGEST_LENGTH],
        outer_digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX inner0, outer0, ctx;
    for (int i = 0; i < SHA256_CBLOCK; i++) block[i] = k[i] ^ 0x36;
    SHA256_Init(&inner0);
    SHA256_Update(&inner0, block, SHA256_CBLOCK);
    for (int i = 0; i < SHA256_CBLOCK; i++) block[i] = k[i] ^ 0x5c;
    SHA256_Init(&outer0);
    SHA256_Update(&outer0, block, SHA256_CBLOCK);
    for (Py_ssize_t i = 0; i < count; i++) {
        int64_t start, end;
        read_offsets(offsets.buf, first + i, wide, &start, &end);
        if (start < 0 || end < start || end > data.len) {
            bad = 1;
            break;
        }
        ctx = inner0;
        SHA256_Update(&ctx, bytes + start, (size_t)(end - start));
        SHA256_Final(inner_digest, &ctx);
        ctx = outer0;
        SHA256_Update(&ctx, inner_digest, SHA256_DIGEST_LENGTH);
        SHA256_Final(outer_digest, &ctx);
        char *t = dst + i * TOKEN_CHARS;
        t[0] = 't';
        t[1] = 'k';
        t[2] = '_';
        for (int j = 0; j < TOKEN_BYTES; j++) {
            t[3 + 2 * j] = HEX[outer_digest[j] >> 4];
            t[4 + 2 * j] = HEX[outer_digest[j] & 15];
        }
    }
    OPENSSL_cleanse(&inner0, sizeof inner0);
    OPENSSL_cleanse(&outer0, sizeof outer0);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    OPENSSL_cleanse(block, sizeof block);
    Py_END_ALLOW_THREADS
    if (bad) {
        Py_CLEAR(out);
        PyErr_SetString(PyExc_ValueError, "offsets outside the data buffer");
    }
done:
    PyBuffer_Release(&key);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    return out;
}

static PyMethodDef methods[] = {
    {"tokens", tokens, METH_VARARGS, "HMAC-SHA256 tokens of an Arrow string array's values."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hmac_tokens", NULL, -1, methods};

PyMODINIT_FUNC PyInit__hmac_tokens(void) { return PyModule_Create(&module); }
