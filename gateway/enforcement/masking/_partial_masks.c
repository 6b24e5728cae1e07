/*
 * Native kernels of two partial masks, one pass over an Arrow string array's buffers
 * with the GIL released. The vectorised Arrow versions (gateway/masking/partial.py) run
 * ~15 kernels per column; on a large stream masking was 16-18% of the time.
 *
 * Each kernel is deliberately narrower than the mask it speeds up: it handles only
 * values of the plain expected shape and flags every other value (ok = 0), which the
 * caller masks with the vectorised function. So the result is the vectorised one by
 * construction wherever this code declines, and the tests check it equal everywhere.
 *
 *   kind 0, id_number_partial: 18 bytes = 17 ASCII digits + a digit, 'X' or 'x';
 *           or 15 ASCII digits. Keeps the first 6 and the last 4, '*' between.
 *   kind 1, name_surname: 2..32 characters, each a 3-byte UTF-8 sequence of U+4E00..
 *           U+9FA5 (CJK ideographs). Keeps the surname — two characters when the first
 *           two are in the compound list (and there are more than two) — '*' per rest.
 *   kind 2, phone_partial: 11 ASCII digits starting with 1. Keeps 3 and the last 4.
 *   kind 3, bank_card_last4: 12..19 ASCII digits. Keeps the last 4.
 *
 * mask(kind, offsets, data, first, count, wide, compound) ->
 *     (offsets of the result, data of the result, ok: one byte per value)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_arrow_offsets.h"

#define MAX_NAME_CHARS 32

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Length of the masked ID number, or -1 if this kernel does not handle the value. */
static int64_t id_number_len(const unsigned char *p, int64_t len) {
    if (len == 18) {
        for (int i = 0; i < 17; i++)
            if (!is_digit(p[i])) return -1;
        return (is_digit(p[17]) || p[17] == 'X' || p[17] == 'x') ? 18 : -1;
    }
    if (len == 15) {
        for (int i = 0; i < 15; i++)
            if (!is_digit(p[i])) return -1;
        return 15;
    }
    return -1;
}

static int all_digits(const unsigned char *p, int64_t len) {
    for (int64_t i = 0; i < len; i++)
        if (!is_digit(p[i])) return 0;
    return 1;
}

/* One 3-byte UTF-8 sequence of U+4E00..U+9FA5? */
static int is_cjk(const unsigned char *p) {
    if (p[0] < 0xE4 || p[0] > 0xE9 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
        return 0;
    uint32_t cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) |
                  (uint32_t)(p[2] & 0x3F);
    return cp >= 0x4E00 && cp <= 0x9FA5;
}

/* Bytes of the surname kept (3 or 6) and the stars after it, or -1 if not handled.
 * ``compound``: sorted 6-byte entries, searched by bisection. */
static int64_t name_parts(const unsigned char *p, int64_t len, const unsigned char *compound,
                          Py_ssize_t compound_len, int64_t *stars) {
    if (len % 3 != 0) return -1;
    int64_t chars = len / 3;
    if (chars < 2 || chars > MAX_NAME_CHARS) return -1;
    for (int64_t i = 0; i < len; i += 3)
        if (!is_cjk(p + i)) return -1;
    int64_t head = 3;
    if (chars > 2) {
        Py_ssize_t lo = 0, hi = compound_len / 6;
        while (lo < hi) {
            Py_ssize_t mid = lo + (hi - lo) / 2;
            int cmp = memcmp(p, compound + mid * 6, 6);
            if (cmp == 0) {
                head = 6;
                break;
            }
            if (cmp < 0) hi = mid;
            else lo = mid + 1;
        }
    }
    *stars = chars - head / 3;
    return head;
}

static PyObject *mask(PyObject *self, PyObject *args) {
    int kind, wide;
    Py_buffer offsets, data, compound;
    Py_ssize_t first, count;
    if (!PyArg_ParseTuple(args, "iy*y*nnpy*", &kind, &offsets, &data, &first, &count, &wide,
                          &compound))
        return NULL;
    PyObject *out_offsets = NULL, *out_data = NULL, *ok = NULL, *result = NULL;
    Py_ssize_t width = wide ? 8 : 4;
    if (kind < 0 || kind > 3 || !offsets_cover(offsets.len, wide, first, count) ||
        compound.len % 6 != 0) {
        PyErr_SetString(PyExc_ValueError, "bad kind, offsets or compound list");
        goto done;
    }
    out_offsets = PyBytes_FromStringAndSize(NULL, (count + 1) * width);
    ok = PyBytes_FromStringAndSize(NULL, count);
    if (out_offsets == NULL || ok == NULL) goto done;
    /* a masked value is never longer than the value: the values' byte range bounds the
     * result (Arrow's offsets only grow; anything else is refused below) */
    if (count == 0) {
        out_data = PyBytes_FromStringAndSize(NULL, 0);
        if (out_data == NULL) goto done;
        memset(PyBytes_AS_STRING(out_offsets), 0, (size_t)width);
        result = PyTuple_Pack(3, out_offsets, out_data, ok);
        goto done;
    }
    int64_t lo_off, hi_off, ignored;
    read_offsets(offsets.buf, first, wide, &lo_off, &ignored);  /* count >= 1: in bounds */
    read_offsets(offsets.buf, first + count - 1, wide, &ignored, &hi_off);
    if (lo_off < 0 || hi_off < lo_off || hi_off > data.len) {
        PyErr_SetString(PyExc_ValueError, "offsets outside the data buffer");
        goto done;
    }
    int64_t capacity = hi_off - lo_off;
    out_data = PyBytes_FromStringAndSize(NULL, capacity);
    if (out_data == NULL) goto done;
    char *offs = PyBytes_AS_STRING(out_offsets);
    unsigned char *flags = (unsigned char *)PyBytes_AS_STRING(ok);
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out_data);
    const unsigned char *bytes = data.buf;
    int bad = 0;
    int64_t at = 0, previous_end = lo_off;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        int64_t start, end, stars = 0, head = 6, size;
        read_offsets(offsets.buf, first + i, wide, &start, &end);
        /* each value inside the range and after the previous one: writes stay in bounds
         * whatever the buffers hold (even if another thread changes them meanwhile) */
        if (start != previous_end || end < start || end > hi_off) {
            bad = 1;
            break;
        }
        previous_end = end;
        if (wide) memcpy(offs + i * 8, &at, 8);
        else {
            int32_t a32 = (int32_t)at;
            memcpy(offs + i * 4, &a32, 4);
        }
        const unsigned char *p = bytes + start;
        int64_t len = end - start;
        if (kind == 0) {
            size = id_number_len(p, len);
        } else if (kind == 1) {
            head = name_parts(p, len, compound.buf, compound.len, &stars);
            size = head < 0 ? -1 : head + stars;
        } else if (kind == 2) {
            size = (len == 11 && p[0] == '1' && all_digits(p, len)) ? 11 : -1;
        } else {
            size = (len >= 12 && len <= 19 && all_digits(p, len)) ? len : -1;
        }
        flags[i] = size >= 0;
        if (size < 0) continue;
        if (size > len || size > capacity - at) {
            bad = 1;
            break;
        }
        if (kind == 0) {
            memcpy(dst + at, p, 6);
            memset(dst + at + 6, '*', (size_t)(len - 10));
            memcpy(dst + at + len - 4, p + len - 4, 4);
        } else if (kind == 1) {
            memcpy(dst + at, p, (size_t)head);
            memset(dst + at + head, '*', (size_t)stars);
        } else if (kind == 2) {
            memcpy(dst + at, p, 3);
            memset(dst + at + 3, '*', 4);
            memcpy(dst + at + 7, p + 7, 4);
        } else {
            memset(dst + at, '*', (size_t)(len - 4));
            memcpy(dst + at + len - 4, p + len - 4, 4);
        }
        at += size;
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "offsets not increasing or outside the data buffer");
        goto done;
    }
    if (wide) memcpy(offs + count * 8, &at, 8);
    else {
        int32_t a32 = (int32_t)at;
        memcpy(offs + count * 4, &a32, 4);
    }
    if (_PyBytes_Resize(&out_data, at) < 0) goto done;
    result = PyTuple_Pack(3, out_offsets, out_data, ok);
done:
    Py_XDECREF(out_offsets);
    Py_XDECREF(out_data);
    Py_XDECREF(ok);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    PyBuffer_Release(&compound);
    return result;
}

static PyMethodDef methods[] = {
    {"mask", mask, METH_VARARGS, "Partial masks of an Arrow string array's plain values."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_partial_masks", NULL, -1, methods};

PyMODINIT_FUNC PyInit__partial_masks(void) { return PyModule_Create(&module); }
