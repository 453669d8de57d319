/* Pickle scanner for `slm scan`: walks the opcodes of a pickle (protocols
 * 0-5) without ever executing it, and lists what it would import.
 *
 * Unpickling runs code: GLOBAL / STACK_GLOBAL / INST import any callable,
 * REDUCE / NEWOBJ / OBJ / INST / BUILD call it. So the scanner models the
 * unpickler's stack just far enough to know the operands of STACK_GLOBAL:
 * each stack slot is a pval (a string inside the input, a mark, a global,
 * or "something else"), and the memo (PUT/BINPUT/MEMOIZE, read back by
 * GET/BINGET) keeps the same values, so "os" pushed once and fetched from
 * the memo later still resolves.
 *
 * A stream that breaks (unknown opcode, truncated argument, stack
 * underflow, no STOP) is itself a finding: Python executes everything
 * before the break, which is how the nullifAI models hid from scanners
 * that gave up at the first error. After an unknown opcode the walk
 * resumes at the next byte so imports further on are still reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define STACK_MAX 4096
#define MEMO_MAX (1u << 20)
#define MAX_RESYNCS 256

typedef enum { PV_OTHER, PV_STR, PV_MARK, PV_GLOBAL } pv_kind;

/* A stack or memo value; strings point into the input (not NUL-terminated). */
typedef struct pval {
    pv_kind kind;
    uint32_t len;
    const char *s;
    int import; /* PV_GLOBAL: index in the report's imports, -1 unknown */
} pval;

typedef struct pwalk {
    const uint8_t *b;
    size_t n, pos;
    const char *what;
    slm_scan_report *rep;
    pval stack[STACK_MAX];
    int sp;
    pval *memo;
    uint32_t memo_cap, memo_next; /* memo_next: MEMOIZE's implicit index */
    int errors, calls;
    bool overflow_noted, broken;
} pwalk;

/* ---- Import classification ------------------------------------------------- */

/* Modules whose import alone means code execution, I/O or escape. */
static const char *const DANGEROUS_MODULES[] = {
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "sys", "socket", "runpy", "shutil", "pty",
    "webbrowser", "importlib", "marshal", "types", "ctypes", "pickle", "_pickle", "cPickle", "dill",
    "code", "codeop", "commands", "multiprocessing", "asyncio", "http", "urllib", "urllib2", "urllib3",
    "requests", "httplib", "ftplib", "telnetlib", "smtplib", "platform", "signal", "operator", "functools",
    "pdb", "bdb", "timeit", "trace", "profile", "cProfile", "pip", "setuptools", "distutils", "venv",
    "tempfile", "glob", "io", "_io", "threading", "_thread", "gc", "inspect", "ssl", "select", "zipimport",
    "pkgutil", "site", "sysconfig", "linecache", "tarfile", "zipfile", "sqlite3", "xmlrpc", "pydoc",
    "torch.hub", "torch.serialization", "torch.jit", "torch._C", "torch.utils.cpp_extension",
    "numpy.testing", "numpy.f2py", "numpy.distutils",
};
/* builtins that evaluate code, reach attributes, or touch files. */
static const char *const DANGEROUS_BUILTINS[] = {
    "eval", "exec", "execfile", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals",
    "locals", "vars", "input", "breakpoint", "help", "exit", "quit", "apply", "file", "reload", "memoryview",
    "super", "type", "classmethod", "staticmethod", "property", "dir", "print",
};
static const char *const SAFE_BUILTINS[] = {
    "set", "frozenset", "slice", "range", "complex", "bytearray", "bytes", "dict", "list", "tuple",
    "int", "float", "bool", "str", "object",
};
/* Exact "module.name" imports that real checkpoints use to rebuild tensors. */
static const char *const ALLOWED[] = {
    "collections.OrderedDict", "collections.defaultdict", "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state", "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_sparse_tensor", "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._tensor._rebuild_from_type_v2", "torch.Size", "torch.device", "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage", "numpy.core.multiarray._reconstruct", "numpy.core.multiarray.scalar",
    "numpy._core.multiarray._reconstruct", "numpy._core.multiarray.scalar", "numpy.ndarray", "numpy.dtype",
    "_codecs.encode",
};

static bool in_list(const char *const *list, size_t n, const char *s) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}
#define IN(list, s) in_list(list, sizeof list / sizeof list[0], s)

/* The module or a parent package is in the dangerous list. */
static bool dangerous_module(const char *mod) {
    for (size_t i = 0; i < sizeof DANGEROUS_MODULES / sizeof DANGEROUS_MODULES[0]; i++) {
        size_t k = strlen(DANGEROUS_MODULES[i]);
        if (strncmp(mod, DANGEROUS_MODULES[i], k) == 0 && (mod[k] == '\0' || mod[k] == '.')) return true;
    }
    return false;
}

static bool is_builtins(const char *mod) {
    return !strcmp(mod, "builtins") || !strcmp(mod, "__builtin__") || !strcmp(mod, "__builtins__");
}

/* torch dtypes (torch.float16...) and storages (torch.FloatStorage...). */
static bool torch_type(const char *mod, const char *name) {
    if (strcmp(mod, "torch") != 0) return false;
    size_t n = strlen(name);
    if (n > 7 && strcmp(name + n - 7, "Storage") == 0) return true;
    static const char *const DT[] = {"float16", "float32", "float64", "bfloat16", "half", "float", "double",
                                     "int8", "uint8", "int16", "int32", "int64", "bool", "long", "int"};
    return IN(DT, name);
}

/* 2 dangerous, 1 not on the allowlist, 0 allowed. */
static int classify(const char *mod, const char *name) {
    if (is_builtins(mod)) return IN(DANGEROUS_BUILTINS, name) ? 2 : IN(SAFE_BUILTINS, name) ? 0 : 1;
    if (dangerous_module(mod)) return 2;
    if (!strcmp(mod, "torch.storage") && !strcmp(name, "_load_from_bytes")) return 2; /* a nested torch.load */
    if (!strcmp(mod, "numpy") && !strcmp(name, "load")) return 2;
    if (torch_type(mod, name) || !strncmp(mod, "torch.nn.modules.", 17)) return 0;
    char full[256];
    snprintf(full, sizeof full, "%s.%s", mod, name);
    return IN(ALLOWED, full) ? 0 : 1;
}

/* Copies an input string for messages: printable ASCII, others as '?'. */
static void printable(char *out, size_t cap, const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[k] = '\0';
}

/* Records an import; returns its index in rep->imports (-1 when full). */
static int record_import(pwalk *w, const char *ms, size_t ml, const char *ns, size_t nl, const char *op,
                         size_t at) {
    char mod[100], name[100], full[208];
    printable(mod, sizeof mod, ms, ml);
    printable(name, sizeof name, ns, nl);
    snprintf(full, sizeof full, "%s.%s", mod, name);
    slm_scan_report *rep = w->rep;
    int idx = -1;
    for (int i = 0; i < rep->n_imports && i < SLM_SCAN_MAX_IMPORTS; i++)
        if (strcmp(rep->imports[i], full) == 0) idx = i;
    if (idx >= 0) return idx;
    if (rep->n_imports < SLM_SCAN_MAX_IMPORTS) {
        idx = rep->n_imports;
        size_t k = strlen(full) < sizeof rep->imports[0] - 1 ? strlen(full) : sizeof rep->imports[0] - 1;
        memcpy(rep->imports[idx], full, k);
        rep->imports[idx][k] = '\0';
    }
    rep->n_imports++;
    int c = classify(mod, name);
    const char *when = w->broken ? ", after the break" : "";
    if (c == 2)
        store_scan_add(rep, SLM_SCAN_UNSAFE, "%s: dangerous import %s (%s at byte %zu%s): runs code when unpickled",
                       w->what, full, op, at, when);
    else if (c == 1)
        store_scan_add(rep, SLM_SCAN_UNSAFE, "%s: import %s (%s at byte %zu%s) is not on the allowlist of "
                       "tensor-rebuilding functions", w->what, full, op, at, when);
    return idx;
}

/* ---- The stack model ---------------------------------------------------- */

static void broken(pwalk *w, size_t at, const char *why) {
    if (w->errors++ == 0)
        store_scan_add(w->rep, SLM_SCAN_UNSAFE, "%s: broken pickle stream at byte %zu: %s; an unpickler runs "
                       "everything before the break (the nullifAI trick), so it is treated as unsafe",
                       w->what, at, why);
    w->broken = true;
}

static void push(pwalk *w, pval v) {
    if (w->sp == STACK_MAX) { /* keep the newest values: drop the bottom */
        memmove(w->stack, w->stack + 1, (STACK_MAX - 1) * sizeof w->stack[0]);
        w->sp--;
        if (!w->overflow_noted)
            store_scan_add(w->rep, SLM_SCAN_UNSAFE, "%s: stack deeper than %d values", w->what, STACK_MAX);
        w->overflow_noted = true;
    }
    w->stack[w->sp++] = v;
}

static void push_other(pwalk *w) { push(w, (pval){.kind = PV_OTHER, .import = -1}); }

static pval pop(pwalk *w, size_t at) {
    if (w->sp == 0) {
        broken(w, at, "stack underflow");
        return (pval){.kind = PV_OTHER, .import = -1};
    }
    return w->stack[--w->sp];
}

static void pop_n(pwalk *w, int k, size_t at) {
    while (k-- > 0) pop(w, at);
}

/* Pops up to and including the topmost mark; returns the slot above it. */
static int pop_mark(pwalk *w, size_t at) {
    int i = w->sp - 1;
    while (i >= 0 && w->stack[i].kind != PV_MARK) i--;
    if (i < 0) {
        broken(w, at, "no MARK on the stack");
        w->sp = 0;
        return 0;
    }
    w->sp = i;
    return i + 1;
}

static void memo_put(pwalk *w, uint64_t idx) {
    if (w->sp == 0) return broken(w, w->pos, "memo store from an empty stack");
    if (idx >= MEMO_MAX) return; /* not tracked: a later GET yields "other" */
    if (idx >= w->memo_cap) {
        uint32_t cap = w->memo_cap ? w->memo_cap : 64;
        while (cap <= idx) cap *= 2;
        pval *m = realloc(w->memo, cap * sizeof *m);
        if (!m) return;
        memset(m + w->memo_cap, 0, (cap - w->memo_cap) * sizeof *m);
        w->memo = m;
        w->memo_cap = cap;
    }
    w->memo[idx] = w->stack[w->sp - 1];
}

static void memo_get(pwalk *w, uint64_t idx) {
    if (idx < w->memo_cap && w->memo[idx].kind != PV_MARK) push(w, w->memo[idx]);
    else push_other(w);
}

/* ---- Argument readers ----------------------------------------------------- */

static bool need(pwalk *w, size_t k) {
    if (w->n - w->pos >= k) return true;
    broken(w, w->pos, "truncated opcode argument");
    w->pos = w->n;
    return false;
}

static uint64_t le(const uint8_t *p, int k) {
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* A fixed-size little-endian argument. */
static bool arg_le(pwalk *w, int k, uint64_t *v) {
    if (!need(w, (size_t)k)) return false;
    *v = le(w->b + w->pos, k);
    w->pos += (size_t)k;
    return true;
}

/* A newline-terminated text argument (without the newline). */
static bool arg_line(pwalk *w, const char **s, size_t *len) {
    const uint8_t *nl = memchr(w->b + w->pos, '\n', w->n - w->pos);
    if (!nl) {
        broken(w, w->pos, "unterminated text argument");
        w->pos = w->n;
        return false;
    }
    *s = (const char *)w->b + w->pos;
    *len = (size_t)(nl - (w->b + w->pos));
    w->pos += *len + 1;
    return true;
}

/* Length-prefixed bytes: pushed as a string when `str`. */
static void arg_counted(pwalk *w, int len_bytes, bool str) {
    uint64_t k;
    if (!arg_le(w, len_bytes, &k)) return;
    if (len_bytes == 4 && k > INT32_MAX && str) return broken(w, w->pos, "negative string length");
    if (k > w->n - w->pos) {
        broken(w, w->pos, "string or bytes length past the end of the data");
        w->pos = w->n;
        return;
    }
    pval v = {.kind = str ? PV_STR : PV_OTHER, .s = (const char *)w->b + w->pos,
              .len = k > UINT32_MAX ? UINT32_MAX : (uint32_t)k, .import = -1};
    w->pos += (size_t)k;
    push(w, v);
}

/* Protocol-0 STRING/UNICODE: the text with surrounding quotes removed. */
static void arg_text_string(pwalk *w, bool quoted) {
    const char *s;
    size_t n;
    if (!arg_line(w, &s, &n)) return;
    if (quoted && n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) s++, n -= 2;
    push(w, (pval){.kind = PV_STR, .s = s, .len = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n), .import = -1});
}

static uint64_t decimal(const char *s, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '9' && v < MEMO_MAX; i++) v = v * 10 + (uint64_t)(s[i] - '0');
    return v;
}

/* ---- Opcodes -------------------------------------------------------------- */

static void op_global(pwalk *w, size_t at, const char *op, bool inst) {
    const char *m, *nm;
    size_t ml, nl;
    if (!arg_line(w, &m, &ml) || !arg_line(w, &nm, &nl)) return;
    int idx = record_import(w, m, ml, nm, nl, op, at);
    if (inst) {
        pop_mark(w, at);
        w->calls++;
        return push_other(w);
    }
    push(w, (pval){.kind = PV_GLOBAL, .import = idx});
}

static void op_stack_global(pwalk *w, size_t at) {
    pval name = pop(w, at), mod = pop(w, at);
    if (mod.kind != PV_STR || name.kind != PV_STR) {
        store_scan_add(w->rep, SLM_SCAN_UNSAFE,
                       "%s: STACK_GLOBAL at byte %zu imports a name the scanner cannot resolve", w->what, at);
        return push(w, (pval){.kind = PV_GLOBAL, .import = -1});
    }
    int idx = record_import(w, mod.s, mod.len, name.s, name.len, "STACK_GLOBAL", at);
    push(w, (pval){.kind = PV_GLOBAL, .import = idx});
}

/* Ops without arguments that only move stack values. */
static bool op_stack(pwalk *w, uint8_t op, size_t at) {
    switch (op) {
    case '(': push(w, (pval){.kind = PV_MARK, .import = -1}); break;
    case '0': pop(w, at); break;
    case '1': pop_mark(w, at); break;
    case '2': if (w->sp) push(w, w->stack[w->sp - 1]); else broken(w, at, "DUP of an empty stack"); break;
    case 'N': case 0x88: case 0x89: case '}': case ']': case ')': case 0x8f: case 0x97: push_other(w); break;
    case 'Q': pop(w, at); push_other(w); break;                       /* BINPERSID */
    case 'R': pop_n(w, 2, at); w->calls++; push_other(w); break;      /* REDUCE */
    case 0x81: pop_n(w, 2, at); w->calls++; push_other(w); break;     /* NEWOBJ */
    case 0x92: pop_n(w, 3, at); w->calls++; push_other(w); break;     /* NEWOBJ_EX */
    case 'b': pop(w, at); w->calls++; break;                          /* BUILD */
    case 'a': pop(w, at); break;                                      /* APPEND */
    case 's': pop_n(w, 2, at); break;                                 /* SETITEM */
    case 'e': case 'u': case 0x90: pop_mark(w, at); break;            /* APPENDS SETITEMS ADDITEMS */
    case 'd': case 'l': case 't': case 0x91: pop_mark(w, at); push_other(w); break;
    case 'o': pop_mark(w, at); w->calls++; push_other(w); break;      /* OBJ */
    case 0x85: pop(w, at); push_other(w); break;                      /* TUPLE1 */
    case 0x86: pop_n(w, 2, at); push_other(w); break;
    case 0x87: pop_n(w, 3, at); push_other(w); break;
    case 0x98: break;                                                 /* READONLY_BUFFER */
    case 0x94: memo_put(w, w->memo_next++); break;                    /* MEMOIZE */
    case 0x93: op_stack_global(w, at); break;
    default: return false;
    }
    return true;
}

/* Ops with an argument. */
static bool op_arg(pwalk *w, uint8_t op, size_t at) {
    uint64_t v;
    const char *s;
    size_t n;
    switch (op) {
    case 'I': case 'L': case 'F': case 'P': if (arg_line(w, &s, &n)) push_other(w); break;
    case 'J': if (arg_le(w, 4, &v)) push_other(w); break;
    case 'K': if (arg_le(w, 1, &v)) push_other(w); break;
    case 'M': if (arg_le(w, 2, &v)) push_other(w); break;
    case 'G': if (arg_le(w, 8, &v)) push_other(w); break;
    case 0x8a: arg_counted(w, 1, false); break;                       /* LONG1 */
    case 0x8b: arg_counted(w, 4, false); break;                       /* LONG4 */
    case 'S': arg_text_string(w, true); break;
    case 'V': arg_text_string(w, false); break;
    case 'T': case 'X': arg_counted(w, 4, true); break;
    case 'U': case 0x8c: arg_counted(w, 1, true); break;
    case 0x8d: arg_counted(w, 8, true); break;                        /* BINUNICODE8 */
    case 'B': arg_counted(w, 4, false); break;
    case 'C': arg_counted(w, 1, false); break;
    case 0x8e: case 0x96: arg_counted(w, 8, false); break;            /* BINBYTES8 BYTEARRAY8 */
    case 'g': if (arg_line(w, &s, &n)) memo_get(w, decimal(s, n)); break;
    case 'h': if (arg_le(w, 1, &v)) memo_get(w, v); break;
    case 'j': if (arg_le(w, 4, &v)) memo_get(w, v); break;
    case 'p': if (arg_line(w, &s, &n)) memo_put(w, decimal(s, n)); break;
    case 'q': if (arg_le(w, 1, &v)) memo_put(w, v); break;
    case 'r': if (arg_le(w, 4, &v)) memo_put(w, v); break;
    case 0x80: arg_le(w, 1, &v); break;                               /* PROTO */
    case 0x95: arg_le(w, 8, &v); break;                               /* FRAME: opcodes continue inline */
    case 'c': op_global(w, at, "GLOBAL", false); break;
    case 'i': op_global(w, at, "INST", true); break;
    case 0x82: case 0x83: case 0x84:                                  /* EXT1/2/4 */
        if (arg_le(w, op == 0x82 ? 1 : op == 0x83 ? 2 : 4, &v))
            store_scan_add(w->rep, SLM_SCAN_UNSAFE, "%s: extension-registry import (EXT code %llu at byte %zu) "
                           "the scanner cannot resolve", w->what, (unsigned long long)v, at);
        push(w, (pval){.kind = PV_GLOBAL, .import = -1});
        break;
    default: return false;
    }
    return true;
}

/* Walks one pickle from w->pos to its STOP (true) or to a break (false). */
static bool walk_one(pwalk *w) {
    w->sp = 0;
    w->memo_next = 0;
    while (w->pos < w->n) {
        size_t at = w->pos;
        uint8_t op = w->b[w->pos++];
        if (op == '.') return true;
        if (op_stack(w, op, at) || op_arg(w, op, at)) continue;
        char why[48];
        snprintf(why, sizeof why, "unknown opcode 0x%02x", op);
        broken(w, at, why);
        return false;
    }
    if (w->errors == 0) broken(w, w->n, "the data ends without a STOP opcode");
    return false;
}

void slm_scan_pickle(const void *data, size_t size, const char *what, slm_scan_report *rep) {
    pwalk *w = calloc(1, sizeof *w);
    if (!w) return store_scan_add(rep, SLM_SCAN_UNSAFE, "%s: out of memory scanning the pickle", what);
    *w = (pwalk){.b = data, .n = size, .what = what ? what : "pickle", .rep = rep};
    int resyncs = 0;
    while (w->pos < w->n) {
        size_t start = w->pos;
        bool ok = walk_one(w);
        if (ok) {
            /* Several pickles may follow each other (legacy torch.save);
             * anything else after a STOP is not unpickled. */
            if (w->pos < w->n && w->b[w->pos] != 0x80) {
                store_scan_add(rep, SLM_SCAN_UNSUPPORTED, "%s: %zu bytes after the last STOP are not a pickle "
                               "(not unpickled; not scanned)", w->what, w->n - w->pos);
                break;
            }
            continue;
        }
        if (++resyncs > MAX_RESYNCS) break;
        if (w->pos <= start) w->pos = start + 1; /* keep walking past the break */
    }
    if (size == 0) broken(w, 0, "empty pickle");
    if (w->calls && rep->verdict == SLM_SCAN_UNSAFE)
        store_scan_add(rep, SLM_SCAN_UNSAFE, "%s: %d call opcode(s) (REDUCE/NEWOBJ/OBJ/INST/BUILD) would run "
                       "imported callables", w->what, w->calls);
    free(w->memo);
    free(w);
}
