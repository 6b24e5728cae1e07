/*
 * rego-cpp's C API driven from C for one decision (policies.rego_call): the input
 * pushed onto its builder in one call (push), and the result read from its node tree
 * in one call (read), instead of one ctypes call per value and per node from Python.
 *
 * push
 *
 * Only the plain JSON shapes the gateway builds are handled here: dict, list, tuple,
 * str, int, float, bool and None, each of its exact type. Anything else (a str or
 * int subclass such as a StrEnum, a set, another Mapping), a string holding NUL, an
 * integer outside 64 bits, a string that is not valid UTF-8 (a lone surrogate),
 * nesting deeper than MAX_DEPTH or any call the engine refuses returns non-zero
 * without raising: the caller then builds the whole input again, on a fresh builder,
 * with the Python path, which converts the other types and words every refusal.
 * So every failure behaves exactly as the Python path does, and this file only
 * needs to be right on the happy path (tests/policies/test_rego_call.py compares the
 * two on every shape).
 *
 * Strings: rego-cpp strips one pair of enclosing double quotes from an input
 * string, so a string that starts and ends with '"' is pushed inside one more pair
 * (policies/rego_call.py says why). The engine copies every value it is given.
 *
 * read
 *
 * The same walk as policies.rego_call._Reader.value, check for check and message for
 * message (the error class is policies.rego_call.RegoCallError, handed over by
 * configure()): objects of items of two, string keys given once, arrays and sets as
 * lists, terms and scalars of one child, integers and floats parsed from the node's
 * text as int() and float() parse it, strings decoded as UTF-8 (strictly) with one
 * pair of enclosing double quotes removed, as rego-cpp reads a string.
 *
 * The engine's functions come from regopy's own shared library: their addresses are
 * handed over once by configure(), read from ctypes, so this extension links against
 * nothing but Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64

typedef uint32_t (*str_fn)(void *, const char *);
typedef uint32_t (*int_fn)(void *, int64_t);
typedef uint32_t (*float_fn)(void *, double);
typedef uint32_t (*bool_fn)(void *, bool);
typedef uint32_t (*unary_fn)(void *);
typedef uint32_t (*size_fn)(void *, uint32_t);
typedef uint32_t (*node_u32_fn)(void *);
typedef void *(*node_get_fn)(void *, uint32_t);
typedef uint32_t (*node_value_fn)(void *, char *, uint32_t);

static struct {
    str_fn string;
    int_fn integer;
    float_fn real;
    bool_fn boolean;
    unary_fn null;
    unary_fn item;
    size_fn object;
    size_fn array;
    node_u32_fn node_type;
    node_u32_fn node_size;
    node_get_fn node_get;
    node_u32_fn node_value_size;
    node_value_fn node_value;
    PyObject *error; /* RegoCallError */
} api;

/* rego-cpp node kinds (regopy.rego_shared.NodeKind) */
enum {
    K_TERM = 1002, K_SCALAR = 1003, K_ARRAY = 1004, K_SET = 1005, K_OBJECT = 1006,
    K_ITEM = 1007, K_INT = 1008, K_FLOAT = 1009, K_STRING = 1010, K_TRUE = 1011,
    K_FALSE = 1012, K_NULL = 1013,
};

static int configured = 0;

/* 0: pushed; non-zero: not pushed as the Python path would (the caller redoes it). */
static int push(void *handle, PyObject *value, int depth);

static int push_string(void *handle, PyObject *value)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(value);
    if (length > 0 && PyUnicode_FindChar(value, 0, 0, length, 1) != -1) {
        return 1; /* NUL: the engine would cut the string there */
    }
    Py_ssize_t size;
    const char *text = PyUnicode_AsUTF8AndSize(value, &size);
    if (text == NULL) {
        PyErr_Clear(); /* a lone surrogate: the Python path raises its own error */
        return 1;
    }
    if (size >= 2 && text[0] == '"' && text[size - 1] == '"') {
        char *quoted = PyMem_Malloc((size_t)size + 3);
        if (quoted == NULL) {
            return 1;
        }
        quoted[0] = '"';
        memcpy(quoted + 1, text, (size_t)size);
        quoted[size + 1] = '"';
        quoted[size + 2] = '\0';
        uint32_t failed = api.string(handle, quoted);
        PyMem_Free(quoted);
        return failed != 0;
    }
    return api.string(handle, text) != 0;
}

static int push_dict(void *handle, PyObject *value, int depth)
{
    Py_ssize_t size = PyDict_GET_SIZE(value);
    if ((size_t)size > UINT32_MAX) {
        return 1;
    }
    Py_ssize_t position = 0;
    PyObject *key;
    PyObject *item;
    while (PyDict_Next(value, &position, &key, &item)) {
        if (push(handle, key, depth + 1) || push(handle, item, depth + 1)
            || api.item(handle) != 0) {
            return 1;
        }
    }
    if (PyDict_GET_SIZE(value) != size) {
        return 1; /* changed while read */
    }
    return api.object(handle, (uint32_t)size) != 0;
}

static int push_items(void *handle, PyObject *value, int depth)
{
    Py_ssize_t size = PySequence_Fast_GET_SIZE(value);
    if ((size_t)size > UINT32_MAX) {
        return 1;
    }
    PyObject **items = PySequence_Fast_ITEMS(value);
    for (Py_ssize_t i = 0; i < size; i++) {
        if (push(handle, items[i], depth + 1)) {
            return 1;
        }
    }
    return api.array(handle, (uint32_t)size) != 0;
}

static int push(void *handle, PyObject *value, int depth)
{
    if (depth > MAX_DEPTH) {
        return 1;
    }
    if (PyUnicode_CheckExact(value)) {
        return push_string(handle, value);
    }
    if (PyDict_CheckExact(value)) {
        return push_dict(handle, value, depth);
    }
    if (PyList_CheckExact(value) || PyTuple_CheckExact(value)) {
        return push_items(handle, value, depth);
    }
    if (value == Py_None) {
        return api.null(handle) != 0;
    }
    if (value == Py_True || value == Py_False) {
        return api.boolean(handle, value == Py_True) != 0;
    }
    if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow != 0 || (number == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 1;
        }
        return api.integer(handle, (int64_t)number) != 0;
    }
    if (PyFloat_CheckExact(value)) {
        return api.real(handle, PyFloat_AS_DOUBLE(value)) != 0;
    }
    return 1; /* another type: the Python path converts it (or refuses it) */
}

static PyObject *rego_push(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *address;
    PyObject *value;
    if (!PyArg_ParseTuple(args, "O!O:push", &PyLong_Type, &address, &value)) {
        return NULL;
    }
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "_rego_native.configure() was not called");
        return NULL;
    }
    void *handle = PyLong_AsVoidPtr(address);
    if (handle == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "null input builder");
        }
        return NULL;
    }
    return PyBool_FromLong(push(handle, value, 0) == 0);
}

/* A function's address from ctypes (an int); 0 when it is not one (an error is set). */
static uintptr_t address_of(PyObject *value)
{
    unsigned long long address = PyLong_AsUnsignedLongLong(value);
    if (PyErr_Occurred()) {
        return 0;
    }
    if (address == 0 || address > UINTPTR_MAX) {
        PyErr_SetString(PyExc_ValueError, "not a function address");
        return 0;
    }
    return (uintptr_t)address;
}

static int addresses(PyObject *tuple, uintptr_t *out, Py_ssize_t count)
{
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) != count) {
        PyErr_Format(PyExc_TypeError, "expected a tuple of %zd function addresses", count);
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        out[i] = address_of(PyTuple_GET_ITEM(tuple, i));
        if (out[i] == 0) {
            return -1;
        }
    }
    return 0;
}

static void set_input_functions(const uintptr_t *p)
{
    api.string = (str_fn)p[0];
    api.integer = (int_fn)p[1];
    api.real = (float_fn)p[2];
    api.boolean = (bool_fn)p[3];
    api.null = (unary_fn)p[4];
    api.item = (unary_fn)p[5];
    api.object = (size_fn)p[6];
    api.array = (size_fn)p[7];
}

static void set_node_functions(const uintptr_t *n)
{
    api.node_type = (node_u32_fn)n[0];
    api.node_size = (node_u32_fn)n[1];
    api.node_get = (node_get_fn)n[2];
    api.node_value_size = (node_u32_fn)n[3];
    api.node_value = (node_value_fn)n[4];
}

static PyObject *rego_configure(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *inputs;
    PyObject *nodes;
    PyObject *error;
    if (!PyArg_ParseTuple(args, "OOO:configure", &inputs, &nodes, &error)) {
        return NULL;
    }
    if (!PyType_Check(error) || !PyType_IsSubtype((PyTypeObject *)error,
                                                  (PyTypeObject *)PyExc_Exception)) {
        PyErr_SetString(PyExc_TypeError, "error must be an exception class");
        return NULL;
    }
    uintptr_t p[8];
    uintptr_t n[5];
    if (addresses(inputs, p, 8) || addresses(nodes, n, 5)) {
        return NULL;
    }
    set_input_functions(p);
    set_node_functions(n);
    Py_INCREF(error);
    Py_XSETREF(api.error, error);
    configured = 1;
    Py_RETURN_NONE;
}

/* -------------------------------------------------------------------- read */

static PyObject *read_value(void *node);

static PyObject *fail(const char *message)
{
    PyErr_SetString(api.error, message);
    return NULL;
}

/* The node's text, with one pair of enclosing quotes removed (_Reader._text). */
static PyObject *read_text(void *node)
{
    uint32_t size = api.node_value_size(node);
    if (size == 0) {
        return fail("cannot read a node value");
    }
    char small[256];
    char *buffer = size <= sizeof small ? small : PyMem_Malloc(size);
    if (buffer == NULL) {
        return PyErr_NoMemory();
    }
    PyObject *text = NULL;
    if (api.node_value(node, buffer, size) != 0) {
        fail("cannot read a node value");
    } else {
        const char *start = buffer;
        Py_ssize_t length = (Py_ssize_t)size - 1; /* the size counts the closing NUL */
        if (length >= 2 && start[0] == '"' && start[length - 1] == '"') {
            start += 1;
            length -= 2;
        }
        text = PyUnicode_DecodeUTF8(start, length, NULL);
    }
    if (buffer != small) {
        PyMem_Free(buffer);
    }
    return text;
}

/* The index-th child, of the kind expected (_child). */
static void *child(void *node, uint32_t index, uint32_t kind)
{
    void *found = api.node_get(node, index);
    if (found == NULL || api.node_type(found) != kind) {
        fail("unexpected node in the result");
        return NULL;
    }
    return found;
}

static PyObject *read_object(void *node)
{
    PyObject *items = PyDict_New();
    if (items == NULL) {
        return NULL;
    }
    uint32_t size = api.node_size(node);
    for (uint32_t i = 0; i < size; i++) {
        void *item = child(node, i, K_ITEM);
        if (item == NULL) {
            goto error;
        }
        if (api.node_size(item) != 2) {
            fail("malformed object item");
            goto error;
        }
        PyObject *key = read_value(api.node_get(item, 0));
        if (key == NULL) {
            goto error;
        }
        if (!PyUnicode_CheckExact(key)) {
            Py_DECREF(key);
            fail("an object key that is not a string");
            goto error;
        }
        int present = PyDict_Contains(items, key);
        if (present != 0) {
            Py_DECREF(key);
            if (present > 0) {
                fail("an object key given twice");
            }
            goto error;
        }
        PyObject *value = read_value(api.node_get(item, 1));
        if (value == NULL) {
            Py_DECREF(key);
            goto error;
        }
        int stored = PyDict_SetItem(items, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        if (stored != 0) {
            goto error;
        }
    }
    return items;
error:
    Py_DECREF(items);
    return NULL;
}

static PyObject *read_items(void *node)
{
    uint32_t size = api.node_size(node);
    PyObject *items = PyList_New((Py_ssize_t)size);
    if (items == NULL) {
        return NULL;
    }
    for (uint32_t i = 0; i < size; i++) {
        PyObject *value = read_value(api.node_get(node, i));
        if (value == NULL) {
            Py_DECREF(items);
            return NULL;
        }
        PyList_SET_ITEM(items, (Py_ssize_t)i, value);
    }
    return items;
}

static PyObject *read_number(void *node, int integer)
{
    PyObject *text = read_text(node);
    if (text == NULL) {
        return NULL;
    }
    PyObject *number = integer ? PyLong_FromUnicodeObject(text, 10) : PyFloat_FromString(text);
    Py_DECREF(text);
    return number;
}

static PyObject *read_kind(void *node, uint32_t kind)
{
    switch (kind) {
    case K_STRING:
        return read_text(node);
    case K_OBJECT:
        return read_object(node);
    case K_ARRAY:
    case K_SET:
        return read_items(node);
    case K_TRUE:
        Py_RETURN_TRUE;
    case K_FALSE:
        Py_RETURN_FALSE;
    case K_NULL:
        Py_RETURN_NONE;
    case K_INT:
        return read_number(node, 1);
    case K_FLOAT:
        return read_number(node, 0);
    case K_TERM:
    case K_SCALAR:
        if (api.node_size(node) != 1) {
            return fail("malformed term node");
        }
        return read_value(api.node_get(node, 0));
    default:
        PyErr_Format(api.error, "unexpected node kind %u in the result", (unsigned)kind);
        return NULL;
    }
}

static PyObject *read_value(void *node)
{
    if (node == NULL) {
        return fail("unexpected node in the result");
    }
    if (Py_EnterRecursiveCall(" while reading the policy result")) {
        return NULL;
    }
    PyObject *value = read_kind(node, api.node_type(node));
    Py_LeaveRecursiveCall();
    return value;
}

static PyObject *rego_read(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *address;
    if (!PyArg_ParseTuple(args, "O!:read", &PyLong_Type, &address)) {
        return NULL;
    }
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "_rego_native.configure() was not called");
        return NULL;
    }
    void *node = PyLong_AsVoidPtr(address);
    if (node == NULL && PyErr_Occurred()) {
        return NULL;
    }
    return read_value(node);
}

static PyMethodDef methods[] = {
    {"configure", rego_configure, METH_VARARGS,
     "configure(inputs, nodes, error): the addresses of rego-cpp's regoInput* functions "
     "(string, int, float, boolean, null, object item, object, array) and node functions "
     "(type, size, get, value size, value), and the exception class read() raises."},
    {"read", rego_read, METH_VARARGS,
     "read(node) -> value: the node's value, as policies.rego_call._Reader.value reads it."},
    {"push", rego_push, METH_VARARGS,
     "push(builder, value) -> bool: True when value was pushed whole; False: build the "
     "input again with the Python path (another type, or a refusal to word)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_rego_native",
    .m_doc = "One decision's input pushed and result read through rego-cpp's C API in C.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__rego_native(void) { return PyModule_Create(&module); }
