/* A schema's constraints on strings as a DFA (sdfa): the strings valid
 * under it. Used for property names (patternProperties, propertyNames),
 * pattern with length limits, and `not` of string constraints, where the
 * grammar needs intersections and complements that GBNF cannot express.
 * Handles type, const/enum, pattern, minLength/maxLength, allOf, anyOf,
 * oneOf (exactly one, tracked as "at least one" minus "at least two"),
 * not, if/then/else, $ref and the common formats (as regexes: the same
 * languages as the GBNF formats); keywords about other types do not
 * constrain strings and are skipped. Other formats are errors naming
 * them. */
#include <string.h>

#include "grammar/json_schema_internal.h"

#define MAX_STRDFA_DEPTH 32

/* Regex forms of the formats (the same languages as the GBNF bodies in
 * json_schema_types.c), for formats combined with lengths or patterns. */
#define OCTET "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#define ELABEL "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
#define ATEXT "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+"
#define DATE "(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|" \
             "02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:[0-9][0-9](?:0[48]|[2468][048]|[13579][26])|" \
             "(?:0[048]|[2468][048]|[13579][26])00)-02-29)"
#define TIME                                                                                                   \
    "(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?(?:[Zz]|[-+](?:[01][0-9]|2[0-3]):[0-5][0-9])|" \
    "23:59:60(?:\\.[0-9]+)?(?:[Zz]|[-+]00:00))"
/* RFC 3986 URIs, as jpchar ... juriref in json_schema.c's preamble */
#define PCT "%[0-9a-fA-F]{2}"
#define PCHAR "(?:[a-zA-Z0-9._~!$&'()*+,;=:@-]|" PCT ")"
#define QF "(?:[a-zA-Z0-9._~!$&'()*+,;=:@/?-]|" PCT ")*"
/* reg-name hosts only: IP literals ([v6]) made the automaton of a URI
 * with a maxLength too large (~100k states); the GBNF form leaves them
 * out too, so both forms are one language (and `not` of a URI format
 * counts one as no URI) */
#define HOST "(?:[a-zA-Z0-9._~!$&'()*+,;=-]|" PCT ")*"
#define AUTH "(?:(?:[a-zA-Z0-9._~!$&'()*+,;=:-]|" PCT ")*@)?" HOST "(?::[0-9]*)?"
#define PATH "(?:/" PCHAR "*)*"
#define REL "(?://" AUTH PATH "|/(?:" PCHAR "+" PATH ")?)"
#define URI "[a-zA-Z][a-zA-Z0-9+.-]*:(?:" REL "|" PCHAR "+" PATH ")(?:\\?" QF ")?(?:#" QF ")?"
/* formats with only this regex form (compiled through the DFA even
 * alone), as validators (ajv-formats) check them. Not OpenAPI's "byte":
 * validators disagree on it (ajv asserts base64, Python's jsonschema
 * ignores it, and MaskBench's valid instances hold PEM text there) */
#define H16 "[0-9a-fA-F]{1,4}"
#define LS32 "(?:" H16 ":" H16 "|" OCTET "\\." OCTET "\\." OCTET "\\." OCTET ")"
#define IP6                                                                                                   \
    "(?:(?:" H16 ":){6}" LS32 "|::(?:" H16 ":){5}" LS32 "|(?:" H16 ")?::(?:" H16 ":){4}" LS32 "|(?:(?:" H16 \
    ":)?" H16 ")?::(?:" H16 ":){3}" LS32 "|(?:(?:" H16 ":){0,2}" H16 ")?::(?:" H16 ":){2}" LS32 "|(?:(?:" H16 \
    ":){0,3}" H16 ")?::" H16 ":" LS32 "|(?:(?:" H16 ":){0,4}" H16 ")?::" LS32 "|(?:(?:" H16 ":){0,5}" H16     \
    ")?::" H16 "|(?:(?:" H16 ":){0,6}" H16 ")?::)"
/* RFC 3339 appendix A: a unit only after the one just above it */
#define DUR_DATE "(?:[0-9]+Y(?:[0-9]+M(?:[0-9]+D)?)?|[0-9]+M(?:[0-9]+D)?|[0-9]+D)"
#define DUR_TIME "T(?:[0-9]+H(?:[0-9]+M(?:[0-9]+S)?)?|[0-9]+M(?:[0-9]+S)?|[0-9]+S)"
/* a host name label without "--" in its 3rd and 4th characters (RFC 5891
 * reserves those, e.g. "xn--" A-labels, which are valid only as Punycode
 * that a grammar cannot check) */
#define HA "[a-zA-Z0-9]"
#define HX "[a-zA-Z0-9-]"
#define HLABEL "" HA "(?:" HA "|" HX HA "|" HX HX HA "|" HX "(?:" HA HX "|-" HA ")" HX "{0,58}" HA ")?"
#define IRI_CH "[\\u00a0-\\ud7ff\\uf900-\\ufdcf\\ufdf0-\\uffef]"
#define IPCHAR "(?:[a-zA-Z0-9._~!$&'()*+,;=:@-]|" PCT "|" IRI_CH ")"
#define IHOST "(?:[a-zA-Z0-9._~!$&'()*+,;=-]|" PCT "|" IRI_CH ")*"
#define IAUTH "(?:(?:[a-zA-Z0-9._~!$&'()*+,;=:-]|" PCT "|" IRI_CH ")*@)?" IHOST "(?::[0-9]*)?"
#define IPATH "(?:/" IPCHAR "*)*"
#define IQF "(?:[a-zA-Z0-9._~!$&'()*+,;=:@/?-]|" PCT "|" IRI_CH ")*"
#define JPTR "(?:/(?:[^~/]|~[01])*)*"
#define TVAR "(?:[a-zA-Z0-9_]|%[0-9a-fA-F]{2})+(?::[1-9][0-9]{0,3}|\\*)?"

static const char *format_regex(const char *f) {
    static const struct {
        const char *name, *re;
    } t[] = {
        {"uri", "^" URI "$"},
        {"iri", "^[a-zA-Z][a-zA-Z0-9+.-]*:(?://" IAUTH IPATH "|/(?:" IPCHAR "+" IPATH ")?|" IPCHAR "+" IPATH
                ")(?:\\?" IQF ")?(?:#" IQF ")?$"},
        {"uri-reference", "^(?:" URI "|(?:" REL "|(?:[a-zA-Z0-9._~!$&'()*+,;=@-]|" PCT ")+" PATH ")?(?:\\?" QF
                          ")?(?:#" QF ")?)$"},
        {"email", "^" ATEXT "(?:\\." ATEXT ")*@" ELABEL "(?:\\." ELABEL ")+$"},
        {"uuid", "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
        {"hostname", "^" HLABEL "(?:\\." HLABEL ")*$"},
        {"ipv4", "^" OCTET "\\." OCTET "\\." OCTET "\\." OCTET "$"},
        {"date", "^" DATE "$"},
        {"time", "^" TIME "$"},
        {"ipv6", "^" IP6 "$"},
        {"duration", "^P(?:" DUR_DATE "(?:" DUR_TIME ")?|" DUR_TIME "|[0-9]+W)$"},
        {"json-pointer", "^" JPTR "$"},
        {"relative-json-pointer", "^(?:0|[1-9][0-9]*)(?:#|" JPTR ")$"},
        {"uri-template", "^(?:[^\\x00-\\x20\\x7f\"'<>%\\\\^`{|}]|%[0-9a-fA-F]{2}|\\{[+#./;?&=,!@|]?" TVAR "(?:," TVAR ")*\\})*$"},
        {"date-time", "^" DATE "[Tt]" TIME "$"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (!strcmp(t[i].name, f)) return t[i].re;
    return NULL;
}

int js_format_regex_known(const char *f) { return format_regex(f) != NULL; }

static int fail_st(jsg *j, slm_status st, const char *what) {
    if (j->st == SLM_OK) {
        j->st = st;
        slm_error_prefix(j->err, "%s", what);
    }
    return -1;
}

static int take(jsg *j, slm_status st, sdfa *acc, sdfa *tmp, const char *what) {
    if (st) {
        sdfa_free(tmp);
        return fail_st(j, st, what);
    }
    sdfa_free(acc);
    *acc = *tmp;
    return 0;
}

/* acc = acc op x; x is freed. */
static int combine(jsg *j, sdfa *acc, sdfa *x, int op) {
    sdfa r;
    slm_status st = sdfa_product(acc, x, op, &r, j->err);
    sdfa_free(x);
    return take(j, st, acc, &r, "json schema");
}

static int any_string(jsg *j, sdfa *out) {
    slm_status st = sdfa_length(NULL, 0, -1, out, j->err);
    return st ? fail_st(j, st, "json schema") : 0;
}

static int gen(jsg *j, json_t *s, sdfa *out, int depth);

static int values_dfa(jsg *j, json_t *vals, sdfa *out) {
    size_t n = json_array_size(vals), k = 0;
    const char **v = calloc(n + 1, sizeof *v);
    if (!v) return fail_st(j, slm_error_set(j->err, SLM_ERR_NOMEM, "out of memory"), "json schema");
    size_t i;
    json_t *x;
    json_array_foreach(vals, i, x) if (json_is_string(x) && strlen(json_string_value(x)) == json_string_length(x))
        v[k++] = json_string_value(x);
    slm_status st = sdfa_from_strings(v, k, out, j->err);
    free(v);
    return st ? fail_st(j, st, "json schema: enum") : 0;
}

static int type_allows_string(json_t *t) {
    if (!t) return 1;
    if (json_is_string(t)) return !strcmp(json_string_value(t), "string");
    size_t i;
    json_t *x;
    json_array_foreach(t, i, x) if (json_is_string(x) && !strcmp(json_string_value(x), "string")) return 1;
    return 0;
}

static int lengths(jsg *j, json_t *s, sdfa *acc) {
    json_t *mn = json_object_get(s, "minLength"), *mx = json_object_get(s, "maxLength");
    if (!mn && !mx) return 0;
    double lo = mn ? json_number_value(mn) : 0, hi = mx ? json_number_value(mx) : -1;
    if ((mn && (!json_is_number(mn) || lo < 0)) || (mx && (!json_is_number(mx) || hi < 0)))
        return fail_st(j, slm_error_set(j->err, SLM_ERR_FORMAT, "minLength/maxLength must be non-negative"), "json schema");
    sdfa r;
    slm_status st = sdfa_length(acc, (long long)lo, (long long)hi, &r, j->err);
    return take(j, st, acc, &r, "json schema");
}

static int combinator(jsg *j, json_t *s, const char *k, sdfa *acc, int depth) {
    json_t *arr = json_object_get(s, k);
    if (!arr) return 0;
    if (!json_is_array(arr) || !json_array_size(arr))
        return fail_st(j, slm_error_set(j->err, SLM_ERR_FORMAT, "%s must be a non-empty array", k), "json schema");
    sdfa one = {0}, two = {0};
    int rc = 0;
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b) {
        sdfa x;
        if ((rc = gen(j, b, &x, depth + 1)) != 0) break;
        if (!strcmp(k, "allOf")) {
            if ((rc = combine(j, acc, &x, SDFA_AND)) != 0) break;
        } else if (i == 0) {
            one = x;
            if (!strcmp(k, "oneOf") && (rc = any_string(j, &two)) == 0) sdfa_complement(&two);
        } else {
            if (!strcmp(k, "oneOf")) { /* two |= one & x */
                sdfa both;
                slm_status st = sdfa_product(&one, &x, SDFA_AND, &both, j->err);
                if (st || (rc = combine(j, &two, &both, SDFA_OR)) != 0) {
                    if (st) fail_st(j, st, "json schema");
                    sdfa_free(&x);
                    rc = -1;
                    break;
                }
            }
            if ((rc = combine(j, &one, &x, SDFA_OR)) != 0) break;
        }
    }
    if (!rc && strcmp(k, "allOf")) {
        if (!strcmp(k, "oneOf")) rc = combine(j, &one, &two, SDFA_AND_NOT);
        if (!rc) rc = combine(j, acc, &one, SDFA_AND);
    }
    sdfa_free(&one), sdfa_free(&two);
    return rc;
}

static int if_then_else(jsg *j, json_t *s, sdfa *acc, int depth) {
    json_t *c = json_object_get(s, "if"), *t = json_object_get(s, "then"), *e = json_object_get(s, "else");
    if (!c || (!t && !e)) return 0;
    sdfa ci, ct, ce;
    if (gen(j, c, &ci, depth + 1)) return -1;
    if (t ? gen(j, t, &ct, depth + 1) : any_string(j, &ct)) return sdfa_free(&ci), -1;
    if (e ? gen(j, e, &ce, depth + 1) : any_string(j, &ce)) return sdfa_free(&ci), sdfa_free(&ct), -1;
    sdfa yes, no;
    slm_status st = sdfa_product(&ci, &ct, SDFA_AND, &yes, j->err);
    sdfa_complement(&ci);
    if (!st) st = sdfa_product(&ci, &ce, SDFA_AND, &no, j->err);
    sdfa_free(&ci), sdfa_free(&ct), sdfa_free(&ce);
    if (st) return fail_st(j, st, "json schema");
    if (combine(j, &yes, &no, SDFA_OR)) return sdfa_free(&yes), -1;
    return combine(j, acc, &yes, SDFA_AND);
}

static int keywords(jsg *j, json_t *s, sdfa *acc, int depth) {
    json_t *t = json_object_get(s, "type");
    if (!type_allows_string(t)) {
        sdfa_free(acc);
        return any_string(j, acc) ? -1 : (sdfa_complement(acc), 0);
    }
    json_t *c = json_object_get(s, "const"), *e = json_object_get(s, "enum");
    sdfa x;
    if (c || e) {
        json_t *vals = c ? json_pack("[O]", c) : json_incref(e);
        int rc = values_dfa(j, vals, &x);
        json_decref(vals);
        if (rc || combine(j, acc, &x, SDFA_AND)) return -1;
    }
    json_t *p = json_object_get(s, "pattern");
    if (p) {
        if (!json_is_string(p)) return fail_st(j, slm_error_set(j->err, SLM_ERR_FORMAT, "pattern must be a string"), "json schema");
        slm_status st = sdfa_from_regex(json_string_value(p), json_string_length(p), &x, j->err);
        if (st) return fail_st(j, st, "json schema: pattern");
        if (combine(j, acc, &x, SDFA_AND)) return -1;
    }
    json_t *f = json_object_get(s, "format");
    const char *fre = json_is_string(f) ? format_regex(json_string_value(f)) : NULL;
    if (f && !fre)
        return fail_st(j, slm_error_set(j->err, SLM_ERR_UNSUPPORTED,
                                        "format '%.60s' where string sets are combined (property names, not, lengths, pattern)",
                                        json_is_string(f) ? json_string_value(f) : "?"), "json schema");
    if (fre) {
        slm_status st = sdfa_from_regex(fre, strlen(fre), &x, j->err);
        if (st) return fail_st(j, st, "json schema: format");
        if (combine(j, acc, &x, SDFA_AND)) return -1;
        /* a host name is at most 253 characters (RFC 1123) */
        if (!strcmp(json_string_value(f), "hostname")) {
            sdfa r;
            if (take(j, sdfa_length(acc, 0, 253, &r, j->err), acc, &r, "json schema")) return -1;
        }
    }
    if (lengths(j, s, acc)) return -1;
    if (combinator(j, s, "allOf", acc, depth) || combinator(j, s, "anyOf", acc, depth) ||
        combinator(j, s, "oneOf", acc, depth) || if_then_else(j, s, acc, depth))
        return -1;
    json_t *n = json_object_get(s, "not");
    if (!n) n = json_object_get(s, "$slm_not_string"); /* written by the `not` rewriting */
    if (n) {
        if (gen(j, n, &x, depth + 1)) return -1;
        sdfa_complement(&x);
        if (combine(j, acc, &x, SDFA_AND)) return -1;
    }
    return 0;
}

static int gen(jsg *j, json_t *s, sdfa *out, int depth) {
    memset(out, 0, sizeof *out);
    if (j->st) return -1;
    if (depth > MAX_STRDFA_DEPTH)
        return fail_st(j, slm_error_set(j->err, SLM_ERR_UNSUPPORTED, "string constraints nested too deeply"), "json schema");
    json_t *d = js_deref(j, s);
    if (!d) return -1;
    if (any_string(j, out)) return -1;
    if (keywords(j, d, out, depth)) {
        sdfa_free(out);
        return -1;
    }
    return 0;
}

int js_string_dfa(jsg *j, json_t *s, sdfa *out) { return gen(j, s, out, 0); }
