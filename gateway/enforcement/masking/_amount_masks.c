/*
 * Native kernel of the ``bucket`` mask (gateway/enforcement/masking/amounts.py) on an
 * Arrow float64 or int64 array: one pass with the GIL released writes each value's label
 * into buffers the caller allocated from Arrow's pool. The
 * vectorised version (a comparison, a cast and an add per bound, a NaN test, then
 * ``take`` of the labels) made ~40 passes' worth over the column, most in ``take``
 * building a million short strings.
 *
 * The result is exactly the vectorised one: a value's range is how many bounds it
 * reaches (value >= bound, compared as Arrow compares a float64 with an integer: in
 * double, exact for every bound the grammar allows; int64 exactly), a null or a NaN
 * gives null (an empty slot, as ``take`` leaves it), and the labels are written one
 * after another from offset 0.
 *
 * Arguments (``bucket`` below says the rest):
 *   kind 0: float64 values; kind 1: int64 values (``values``: the array's data buffer,
 *           value i of the array at element first + i);
 *   validity: the array's validity bitmap (bit first + i), or None (no nulls);
 *   bounds: the k bounds as native int64, ascending (1 <= k <= MAX_BOUNDS);
 *   label_offsets, labels: the k + 2 offsets (int64) of the k + 1 labels, their bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_BOUNDS 8
#define SLOT 32 /* bytes of the longest label: "[-9999999999999,-9999999999998)" is 31 */

static int bit(const unsigned char *bitmap, Py_ssize_t index) {
    return (bitmap[index >> 3] >> (index & 7)) & 1;
}

static void write_offset(char *offs, Py_ssize_t i, int wide, int64_t at) {
    if (wide) memcpy(offs + i * 8, &at, 8);
    else {
        int32_t a32 = (int32_t)at;
        memcpy(offs + i * 4, &a32, 4);
    }
}

/* The arguments, checked: every read below stays inside the
 * buffers (element first + count - 1 of the values, bit first + count - 1 of the
 * validity, the k + 1 labels), whatever the caller passed. */
typedef struct {
    int kind, k;
    Py_ssize_t first, count;
    Py_buffer values, validity, bounds_buf, labels, label_offsets;
    int has_validity;
    int64_t bounds[MAX_BOUNDS], lo[MAX_BOUNDS + 2], sizes[MAX_BOUNDS + 1];
    double fbounds[MAX_BOUNDS];
} Input;

static void release(Input *in) {
    if (in->has_validity) PyBuffer_Release(&in->validity);
    PyBuffer_Release(&in->labels);
    PyBuffer_Release(&in->values);
    PyBuffer_Release(&in->bounds_buf);
    PyBuffer_Release(&in->label_offsets);
}

/* Fills ``in`` from the parsed values (whose buffers it then owns); 0 with an exception
 * set if they do not describe a float64 or int64 array, bounds and labels. */
static int check(Input *in, PyObject *validity) {
    in->has_validity = 0;
    if (validity != Py_None) {
        if (PyObject_GetBuffer(validity, &in->validity, PyBUF_SIMPLE) < 0) return 0;
        in->has_validity = 1;
    }
    Py_ssize_t k = in->bounds_buf.len / 8, n = in->values.len / 8;
    Py_ssize_t bits = in->has_validity ? in->validity.len * 8 : 0;
    if ((in->kind != 0 && in->kind != 1) || in->first < 0 || in->count < 0 ||
        in->bounds_buf.len % 8 != 0 || k < 1 || k > MAX_BOUNDS ||
        in->label_offsets.len != (k + 2) * 8 || in->first > n || in->count > n - in->first ||
        (in->has_validity && (in->count > bits || in->first > bits - in->count))) {
        PyErr_SetString(PyExc_ValueError, "bad kind, buffers or bounds");
        return 0;
    }
    in->k = (int)k;
    memcpy(in->bounds, in->bounds_buf.buf, (size_t)(k * 8));
    memcpy(in->lo, in->label_offsets.buf, (size_t)((k + 2) * 8));
    if (in->lo[0] != 0) {
        PyErr_SetString(PyExc_ValueError, "label offsets do not start at 0");
        return 0;
    }
    for (int j = 0; j <= in->k; j++) {
        in->sizes[j] = in->lo[j + 1] - in->lo[j];
        if (in->sizes[j] < 0 || in->sizes[j] > SLOT ||
            in->lo[j + 1] > in->labels.len) {
            PyErr_SetString(PyExc_ValueError, "label offsets outside the labels");
            return 0;
        }
        if (j < in->k) in->fbounds[j] = (double)in->bounds[j];
    }
    return 1;
}

/* bucket(kind, values, first, count, validity, bounds, label_offsets, labels, wide,
 *        offsets, data, out_validity) -> (bytes written to data, nulls)
 * writes the result into buffers the caller allocated from Arrow's pool (reused pages,
 * where fresh ones from malloc cost a page fault each): offsets (count + 1, int32 or
 * int64), data (count * the longest label + SLOT bytes at least: each label is written
 * as one fixed-size copy, no call and no branch on its length; the caller cuts it to the
 * bytes written) and out_validity ((count + 7) / 8 bytes). */
static PyObject *bucket(PyObject *self, PyObject *args) {
    Input in;
    PyObject *validity;
    int wide;
    Py_buffer offsets, data, out_validity;
    if (!PyArg_ParseTuple(args, "iy*nnOy*y*y*pw*w*w*", &in.kind, &in.values, &in.first,
                          &in.count, &validity, &in.bounds_buf, &in.label_offsets,
                          &in.labels, &wide, &offsets, &data, &out_validity))
        return NULL;
    PyObject *result = NULL;
    if (!check(&in, validity)) goto done;
    const Py_ssize_t width = wide ? 8 : 4, count = in.count, first = in.first;
    const int k = in.k, kind = in.kind;
    int64_t longest = 0;
    for (int j = 0; j <= k; j++) longest = in.sizes[j] > longest ? in.sizes[j] : longest;
    /* divisions: no product overflows */
    if (offsets.len / width < count + 1 || out_validity.len < count / 8 + (count % 8 != 0) ||
        data.len < SLOT || (longest > 0 && (data.len - SLOT) / longest < count)) {
        PyErr_SetString(PyExc_ValueError, "output buffers too small");
        goto done;
    }
    /* locals, not fields: the writes below go through char pointers, which may alias
     * any memory the compiler cannot see is private, and would reload each field */
    char slots[MAX_BOUNDS + 1][SLOT];
    int64_t sizes[MAX_BOUNDS + 1], ibounds[MAX_BOUNDS];
    double fbounds[MAX_BOUNDS];
    memset(slots, 0, sizeof slots);
    for (int j = 0; j <= k; j++) {
        sizes[j] = in.sizes[j];
        memcpy(slots[j], (const char *)in.labels.buf + in.lo[j], (size_t)sizes[j]);
        if (j < k) {
            ibounds[j] = in.bounds[j];
            fbounds[j] = in.fbounds[j];
        }
    }
    const unsigned char *valid = in.has_validity ? in.validity.buf : NULL;
    const char *src = in.values.buf;
    char *offs = offsets.buf, *dst = data.buf;
    unsigned char *bits = out_validity.buf;
    int64_t at = 0;
    Py_ssize_t nulls = 0;
    Py_BEGIN_ALLOW_THREADS
    memset(bits, 0, (size_t)(count / 8 + (count % 8 != 0)));
    for (Py_ssize_t i = 0; i < count; i++) {
        write_offset(offs, i, wide, at);
        if (valid != NULL && !bit(valid, first + i)) {
            nulls++;
            continue;
        }
        int r = 0;
        if (kind == 0) {
            double v;
            memcpy(&v, src + (first + i) * 8, 8);
            if (v != v) { /* NaN has no bucket */
                nulls++;
                continue;
            }
            for (int j = 0; j < k; j++) r += v >= fbounds[j];
        } else {
            int64_t v;
            memcpy(&v, src + (first + i) * 8, 8);
            for (int j = 0; j < k; j++) r += v >= ibounds[j];
        }
        memcpy(dst + at, slots[r], SLOT); /* at <= i * longest: inside data.len - SLOT */
        at += sizes[r];
        bits[i >> 3] |= (unsigned char)(1u << (i & 7));
    }
    write_offset(offs, count, wide, at);
    Py_END_ALLOW_THREADS
    if (!wide && at > INT32_MAX) { /* the 32-bit offsets above wrapped: not a result */
        result = Py_NewRef(Py_None);
        goto done;
    }
    result = Py_BuildValue("Ln", (long long)at, nulls);
done:
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    PyBuffer_Release(&out_validity);
    release(&in);
    return result;
}

static PyMethodDef methods[] = {
    {"bucket", bucket, METH_VARARGS, "The bucket mask's labels of a float64 or int64 array."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_amount_masks", NULL, -1, methods};

PyMODINIT_FUNC PyInit__amount_masks(void) { return PyModule_Create(&module); }
