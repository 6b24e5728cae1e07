/*
 * Reading an Arrow string array's offsets from C, for the masking kernels: the bounds
 * rules live here once. Offsets are int32 (string) or int64 (large_string), read with
 * memcpy so any buffer is accepted, aligned or not.
 */
#ifndef SLUICE_ARROW_OFFSETS_H
#define SLUICE_ARROW_OFFSETS_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Whether values first .. first + count - 1 have their count + 1 offsets inside a buffer
 * of offsets_len bytes; by division, so no product can overflow. */
static int offsets_cover(Py_ssize_t offsets_len, int wide, Py_ssize_t first, Py_ssize_t count) {
    Py_ssize_t slots = offsets_len / (wide ? 8 : 4);
    return first >= 0 && count >= 0 && count < slots && first <= slots - 1 - count;
}

/* Start and end of value ``index`` (callers checked ``offsets_cover``). */
static void read_offsets(const char *buf, Py_ssize_t index, int wide, int64_t *start,
                         int64_t *end) {
    const char *at = buf + index * (wide ? 8 : 4);
    if (wide) {
        memcpy(start, at, 8);
        memcpy(end, at + 8, 8);
    } else {
        int32_t s32, e32;
        memcpy(&s32, at, 4);
        memcpy(&e32, at + 4, 4);
        *start = s32;
        *end = e32;
    }
}

#endif
