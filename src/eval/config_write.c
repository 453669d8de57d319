/* Writing a calibrated threshold into slm.yaml without disturbing the rest
 * of the file: a line-level edit, not a YAML round trip, so comments, key
 * order, quoting and blank lines all survive. The edit either replaces the
 * value on the key's own line under the top-level `confidence:` block
 * (indentation and trailing comment kept), adds the key as the block's
 * last entry, or appends a new block. Shapes it cannot edit safely (flow
 * mapping, anchors/aliases/tags, a multi-line value, tabs, several
 * documents) are refused. The result must load with the router's own
 * config loader and carry the value before the file is replaced
 * atomically (temp file in the same directory, fsync, rename). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/eval_internal.h"

#define MAX_CONFIG_BYTES (16u << 20)

typedef struct line {
    const char *p;
    size_t n; /* without the newline */
} line;

static size_t indent_of(line l) {
    size_t i = 0;
    while (i < l.n && l.p[i] == ' ') i++;
    return i;
}

static bool blank_or_comment(line l) {
    size_t i = indent_of(l);
    return i == l.n || l.p[i] == '#' || l.p[i] == '\r';
}

/* "KEY:" at column `ind`, followed by space, end or '#'? Sets *value to
 * the offset after the colon. */
static bool is_key(line l, size_t ind, const char *key, size_t *value) {
    size_t k = strlen(key);
    if (l.n < ind + k + 1 || memcmp(l.p + ind, key, k) || l.p[ind + k] != ':') return false;
    size_t v = ind + k + 1;
    if (v < l.n && l.p[v] != ' ' && l.p[v] != '\r' && l.p[v] != '#') return false;
    *value = v;
    return true;
}

/* The value's span on its line (after the colon, before a " #" comment). */
static void value_span(line l, size_t from, size_t *a, size_t *b) {
    size_t i = from;
    while (i < l.n && l.p[i] == ' ') i++;
    size_t end = i;
    while (end < l.n && l.p[end] != '\r' && !(l.p[end] == '#' && end > 0 && l.p[end - 1] == ' ')) end++;
    while (end > i && l.p[end - 1] == ' ') end--;
    *a = i, *b = end;
}

static slm_status refuse(slm_error *err, int lineno, const char *why) {
    return slm_error_set(err, SLM_ERR_UNSUPPORTED, "line %d: %s; edit confidence: by hand", lineno, why);
}

static slm_status split_lines(const char *text, size_t len, line **out, size_t *n, slm_error *err) {
    size_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
    line *ls = slm_malloc_array(cap, sizeof *ls);
    if (!ls) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        ls[k++] = (line){text + pos, end - pos};
        pos = end + 1;
    }
    *out = ls, *n = k;
    return SLM_OK;
}

/* Checks the block's lines [from, to) for shapes a line edit could break. */
static slm_status check_block(const line *ls, size_t from, size_t to, slm_error *err) {
    for (size_t i = from; i < to; i++) {
        if (blank_or_comment(ls[i])) continue;
        for (size_t j = 0; j < ls[i].n && (ls[i].p[j] == ' ' || ls[i].p[j] == '\t'); j++)
            if (ls[i].p[j] == '\t') return refuse(err, (int)i + 1, "tab indentation under confidence");
        const char *colon = memchr(ls[i].p, ':', ls[i].n);
        size_t a, b;
        if (!colon) return refuse(err, (int)i + 1, "a confidence entry is not `key: value`");
        value_span(ls[i], (size_t)(colon - ls[i].p) + 1, &a, &b);
        if (a < b && strchr("&*!|>{[", ls[i].p[a]))
            return refuse(err, (int)i + 1, "anchors, aliases, tags, block or flow values under confidence");
        if (!memcmp(ls[i].p + indent_of(ls[i]), "<<", 2)) return refuse(err, (int)i + 1, "a merge key under confidence");
    }
    return SLM_OK;
}

slm_status slm_eval_yaml_set_confidence(const char *text, size_t len, const char *key, const char *value, char **out,
                                        slm_error *err) {
    *out = NULL;
    line *ls = NULL;
    size_t n = 0;
    slm_status st = split_lines(text, len, &ls, &n, err);
    if (st) return st;
    size_t sec = n, vpos = 0;
    for (size_t i = 0; i < n && !st; i++) {
        if (i > 0 && ls[i].n >= 3 && !memcmp(ls[i].p, "---", 3)) st = refuse(err, (int)i + 1, "several YAML documents");
        else if (is_key(ls[i], 0, "confidence", &vpos)) {
            size_t a, b;
            value_span(ls[i], vpos, &a, &b);
            if (sec != n) st = refuse(err, (int)i + 1, "confidence: appears twice");
            else if (a < b) st = refuse(err, (int)i + 1, "confidence: is not a block mapping (flow style, anchor or inline value)");
            sec = i;
        }
    }
    ev_buf o = {0};
    if (!st && sec == n) { /* no section: append one */
        ev_buf_put(&o, text, len);
        if (len && text[len - 1] != '\n') ev_buf_puts(&o, "\n");
        ev_buf_printf(&o, "confidence:\n  %s: %s\n", key, value);
    } else if (!st) {
        size_t last = sec; /* the block: lines until one starts at column 0; last = its last entry */
        for (size_t i = sec + 1; i < n; i++) {
            if (ls[i].n && ls[i].p[0] == '\t') {
                st = refuse(err, (int)i + 1, "tab indentation under confidence");
                break;
            }
            if (ls[i].n && ls[i].p[0] != ' ' && ls[i].p[0] != '\r') break; /* a key or comment at column 0 */
            if (!blank_or_comment(ls[i])) last = i;
        }
        if (!st) st = check_block(ls, sec + 1, last + 1, err);
        size_t ind = 2, hit = n; /* the entries' indentation: the first entry's */
        for (size_t i = sec + 1; i <= last; i++)
            if (!blank_or_comment(ls[i])) {
                ind = indent_of(ls[i]);
                break;
            }
        for (size_t i = sec + 1; !st && i <= last; i++) {
            if (blank_or_comment(ls[i]) || indent_of(ls[i]) != ind) {
                if (!blank_or_comment(ls[i]) && indent_of(ls[i]) > ind && hit == i - 1)
                    st = refuse(err, (int)i + 1, "the value spans several lines");
                continue;
            }
            if (is_key(ls[i], ind, key, &vpos)) hit = i;
        }
        if (!st && hit != n) {
            size_t a, b;
            value_span(ls[hit], vpos, &a, &b);
            if (a == b) st = refuse(err, (int)hit + 1, "the value is on the following lines");
            size_t off = (size_t)(ls[hit].p - text);
            ev_buf_put(&o, text, off + a);
            ev_buf_puts(&o, value);
            ev_buf_put(&o, text + off + b, len - off - b);
        } else if (!st) {
            size_t at = (size_t)(ls[last].p - text) + ls[last].n; /* end of the last entry's line */
            bool crlf = ls[last].n && ls[last].p[ls[last].n - 1] == '\r';
            if (crlf) at--;
            size_t eol = at < len && text[at] == '\r' ? at + 2 : at + 1;
            if (eol > len) eol = len;
            ev_buf_put(&o, text, eol);
            if (eol == len && (len == 0 || text[len - 1] != '\n')) ev_buf_puts(&o, crlf ? "\r\n" : "\n");
            ev_buf_printf(&o, "%*s%s: %s%s\n", (int)ind, "", key, value, crlf ? "\r" : "");
            ev_buf_put(&o, text + eol, len - eol);
        }
    }
    free(ls);
    if (!st && !o.ok) st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    if (st) ev_buf_free(&o);
    else *out = o.p;
    return st;
}

/* The shortest decimal that reads back as v. */
static void format_value(double v, char *buf, size_t cap) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

static double loaded_value(const slm_route_config *c, const char *key) {
    const slm_route_confidence *cf = &c->confidence;
    if (!strcmp(key, "min_mean_logprob")) return cf->min_mean_logprob;
    if (!strcmp(key, "min_token_logprob")) return cf->min_token_logprob;
    if (!strcmp(key, "max_entropy")) return cf->max_entropy;
    return NAN;
}

static slm_status read_all(const char *path, char **text, size_t *len, struct stat *sb, slm_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    ev_buf b = {0};
    char chunk[65536];
    size_t n;
    ev_buf_put(&b, "", 0);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= MAX_CONFIG_BYTES) ev_buf_put(&b, chunk, n);
    bool bad = ferror(f) || fstat(fileno(f), sb) != 0;
    fclose(f);
    if (bad || !b.ok || b.len > MAX_CONFIG_BYTES) {
        ev_buf_free(&b);
        return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, bad ? "read error" : "too large");
    }
    *text = b.p, *len = b.len;
    return SLM_OK;
}

/* Temp file beside the target, same mode, fsync, rename over it. */
static slm_status replace_file(const char *path, const char *text, mode_t mode, slm_error *err) {
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        slm_status st = slm_error_set(err, SLM_ERR_IO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    size_t len = strlen(text), done = 0;
    bool ok = fchmod(fd, mode & 07777) == 0;
    while (ok && done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        if (ok) done += (size_t)w;
    }
    ok = ok && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    slm_status st = ok ? SLM_OK : slm_error_set(err, SLM_ERR_IO, "%s: writing failed: %s", path, strerror(errno));
    if (!ok) unlink(tmp);
    free(tmp);
    return st;
}

slm_status slm_eval_config_set_confidence(const char *path, const char *key, double value, slm_error *err) {
    if (strcmp(key, "min_mean_logprob") && strcmp(key, "min_token_logprob") && strcmp(key, "max_entropy"))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "unknown confidence key '%s'", key);
    if (!isfinite(value)) return slm_error_set(err, SLM_ERR_INVALID_ARG, "threshold must be finite");
    char real[PATH_MAX];
    /* a symlinked slm.yaml: edit its target, keep the link */
    if (!realpath(path, real)) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    char *text = NULL, *edited = NULL, num[40];
    size_t len = 0;
    struct stat sb;
    slm_route_config *c = NULL;
    slm_status st = read_all(real, &text, &len, &sb, err);
    if (!st && slm_route_config_parse(text, len, path, &c, err)) st = slm_error_prefix(err, "%s does not load as it is", path);
    slm_route_config_free(c);
    c = NULL;
    format_value(value, num, sizeof num);
    if (!st && (st = slm_eval_yaml_set_confidence(text, len, key, num, &edited, err))) slm_error_prefix(err, "%s", path);
    if (!st && slm_route_config_parse(edited, strlen(edited), path, &c, err))
        st = slm_error_prefix(err, "%s: the edited file would not load; left unchanged", path);
    if (!st && loaded_value(c, key) != strtod(num, NULL))
        st = slm_error_set(err, SLM_ERR_UNSUPPORTED, "%s: the edited file does not carry confidence.%s = %s; left unchanged",
                           path, key, num);
    if (!st) st = replace_file(real, edited, sb.st_mode, err);
    slm_route_config_free(c);
    free(text);
    free(edited);
    return st;
}
