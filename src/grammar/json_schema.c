/* JSON Schema -> GBNF: the dispatcher. Handles booleans, $ref (local JSON
 * pointers, recursion through pre-assigned rule ids), const, enum (values
 * filtered by the sibling keywords), allOf (schemas merged keyword by
 * keyword), anyOf/oneOf (alternatives; a oneOf whose branches may overlap
 * becomes anyOf_i(branch i and not the others), or with
 * one_of_as_any_of plain anyOf), not / if / dependencies (rewritten in
 * json_schema_not.c), type (one or a union; absent = every type, each
 * constrained by its own keywords, as JSON Schema says) and nullable.
 * Keywords it cannot enforce are errors naming the keyword; annotations
 * and unknown keys are ignored. Per-type rules live in
 * json_schema_types.c (arrays, strings, numbers), json_schema_object.c,
 * json_schema_number.c; string languages as DFAs in json_schema_nfa.c,
 * json_schema_dfa.c and json_schema_strdfa.c. Keys starting "$slm_" are
 * internal keywords the rewriting writes (never read from user input:
 * a user schema using them is treated the same way). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "grammar/json_schema_internal.h"

#define MAX_SCHEMA_DEPTH 128
#define MAX_GEN_WORK 50000
#define MAX_GRAMMAR_TEXT (64u << 20)

static const char *const PREAMBLE =
    "root ::= ws r3 ws\n"
    "r1 ::= jv\n"
    "r2 ::= [^\\x00-\\U0010FFFF]\n"
    "jv ::= jobj | jarr | jstr | jnum | \"true\" | \"false\" | \"null\"\n"
    "jobj ::= \"{\" ws ( jstr ws \":\" ws jv ( ws \",\" ws jstr ws \":\" ws jv )* )? ws \"}\"\n"
    "jarr ::= \"[\" ws ( jv ( ws \",\" ws jv )* )? ws \"]\"\n"
    "jstr ::= \"\\\"\" jchar* \"\\\"\"\n"
    "jchar ::= [^\"\\\\\\x00-\\x1F] | jesc\n"
    "jesc ::= \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} )\n"
    "jnum ::= \"-\"? jdigits ( \".\" [0-9]+ )? ( [eE] [-+]? [0-9]+ )?\n"
    "jdigits ::= \"0\" | [1-9] [0-9]*\n"
    "jint ::= \"-\"? jdigits ( \".\" \"0\"{1,8} )?\n"
    "jdate ::= [0-9]{4} \"-\" jmd | jleap \"-02-29\"\n"
    "jmd ::= ( \"0\" [13578] | \"1\" [02] ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"3\" [01] ) | "
    "( \"0\" [469] | \"11\" ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"30\" ) | "
    "\"02-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] )\n"
    "jleap ::= [0-9] [0-9] ( \"0\" [48] | [2468] [048] | [13579] [26] ) | "
    "( \"0\" [048] | [2468] [048] | [13579] [26] ) \"00\"\n"
    "joct ::= \"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9]? [0-9]\n";

/* Rules of the time and URI formats, added only to grammars that use them
 * (every rule of the preamble is parsed at each compile). */
static const char *const FORMAT_RULES =
    /* time: a leap second only where it can be one (23:59:60 UTC) */
    "jtime ::= ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]+ )? "
    "( [Zz] | [-+] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] ) | "
    "\"23:59:60\" ( \".\" [0-9]+ )? ( [Zz] | [-+] \"00:00\" )\n"
    /* URIs (RFC 3986): hier-part never empty, only its characters (as
     * validators check them; an empty path after "scheme:" is allowed by
     * the RFC but not by ajv-formats); hosts are names or IPv4 addresses,
     * not IP literals ("[::1]"), as in json_schema_strdfa.c's regex form,
     * whose automaton with a maxLength they made too large */
    "jpct ::= \"%\" [0-9a-fA-F] [0-9a-fA-F]\n"
    "jpchar ::= [a-zA-Z0-9._~!$&'()*+,;=:@-] | jpct\n"
    "jqf ::= ( [a-zA-Z0-9._~!$&'()*+,;=:@/?-] | jpct )*\n"
    "jhost ::= ( [a-zA-Z0-9._~!$&'()*+,;=-] | jpct )*\n"
    "jauth ::= ( ( [a-zA-Z0-9._~!$&'()*+,;=:-] | jpct )* \"@\" )? jhost ( \":\" [0-9]* )?\n"
    "jpath ::= ( \"/\" jpchar* )*\n"
    "jrel ::= \"//\" jauth jpath | \"/\" ( jpchar+ jpath )?\n"
    "juri ::= [a-zA-Z] [a-zA-Z0-9+.-]* \":\" ( jrel | jpchar+ jpath ) ( \"?\" jqf )? ( \"#\" jqf )?\n"
    "juriref ::= juri | ( jrel | ( [a-zA-Z0-9._~!$&'()*+,;=@-] | jpct )+ jpath )? ( \"?\" jqf )? ( \"#\" jqf )?\n";

unsigned js_fail(jsg *j, slm_status code, const char *fmt, ...) {
    if (j->st == SLM_OK) {
        char msg[900];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        j->st = slm_error_set(j->err, code, "json schema: %s", msg);
    }
    return 0;
}

unsigned js_new_id(jsg *j) { return j->next_id++; }

void js_define(jsg *j, unsigned id, const char *body) {
    gstr_printf(&j->rules, "r%u ::= ", id);
    gstr_puts(&j->rules, body);
    gstr_puts(&j->rules, "\n");
    if (j->rules.len > MAX_GRAMMAR_TEXT) js_fail(j, SLM_ERR_NOMEM, "grammar too large");
}

unsigned js_rulef(jsg *j, const char *fmt, ...) {
    if (j->st) return 0;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) return js_fail(j, SLM_ERR_INTERNAL, "rule text too long");
    return js_rule(j, buf);
}

unsigned js_rule(jsg *j, const char *body) {
    if (j->st) return 0;
    if (!body || !*body) return 2; /* no alternatives: nothing is valid */
    unsigned id = js_new_id(j);
    js_define(j, id, body);
    return j->st ? 0 : id;
}

static void put_dump(jsg *j, gstr *o, json_t *v) {
    char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!txt) {
        js_fail(j, SLM_ERR_NOMEM, "cannot serialize a value");
        return;
    }
    gstr_puts(o, "\"");
    gstr_gbnf_lit(o, txt, strlen(txt));
    gstr_puts(o, "\"");
    free(txt);
}

/* A value as a GBNF sequence. JSON Schema compares numbers by value, so
 * an integral number also matches its "N.0" spelling; containers are
 * written element by element so nested numbers get the same freedom. */
void js_put_literal(jsg *j, gstr *o, json_t *v) {
    if (json_is_integer(v) || (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
                               fabs(json_real_value(v)) < 1e15)) {
        long long x = json_is_integer(v) ? json_integer_value(v) : (long long)json_real_value(v);
        gstr_printf(o, "( \"%lld\" ( \".\" \"0\"{1,8} )? )", x);
    } else if (json_is_array(v)) {
        gstr_puts(o, "( \"[\" ws");
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (i) gstr_puts(o, " \",\" ws");
            gstr_puts(o, " ");
            js_put_literal(j, o, x);
            gstr_puts(o, " ws");
        }
        gstr_puts(o, " \"]\" )");
    } else if (json_is_object(v)) {
        gstr_puts(o, "( \"{\" ws");
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach(v, k, x) {
            json_t *ks = json_string(k);
            gstr_puts(o, first ? " " : " \",\" ws ");
            put_dump(j, o, ks);
            json_decref(ks);
            gstr_puts(o, " ws \":\" ws ");
            js_put_literal(j, o, x);
            gstr_puts(o, " ws");
            first = 0;
        }
        gstr_puts(o, " \"}\" )");
    } else {
        put_dump(j, o, v);
    }
}

/* ---- keywords -------------------------------------------------------- */

static int is_trivial_unsupported(const char *k, json_t *v, json_t *s) {
    if (!strcmp(k, "uniqueItems")) {
        json_t *mx = json_object_get(s, "maxItems");
        return json_is_false(v) || (json_is_integer(mx) && json_integer_value(mx) <= 1);
    }
    if (!strcmp(k, "not")) return json_is_object(v) && json_object_size(v) == 0; /* = false */
    if (!strcmp(k, "minProperties")) return json_is_integer(v) && json_integer_value(v) <= 0;
    if (!strcmp(k, "then") || !strcmp(k, "else")) return json_object_get(s, "if") == NULL;
    if (!strcmp(k, "if")) return !json_object_get(s, "then") && !json_object_get(s, "else");
    if (!strcmp(k, "propertyNames") || !strcmp(k, "unevaluatedProperties") || !strcmp(k, "unevaluatedItems"))
        return json_is_true(v) || (json_is_object(v) && json_object_size(v) == 0);
    if (!strcmp(k, "dependentRequired") || !strcmp(k, "dependentSchemas") || !strcmp(k, "dependencies") ||
        !strcmp(k, "patternProperties"))
        return json_is_object(v) && json_object_size(v) == 0;
    return 0;
}

static slm_status check_keywords(jsg *j, json_t *s) {
    static const char *const unsupported[] = {
        "unevaluatedProperties", "unevaluatedItems",
        "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor"};
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v) {
        for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
            if (!strcmp(k, unsupported[i]) && !is_trivial_unsupported(k, v, s)) {
                js_fail(j, SLM_ERR_UNSUPPORTED, "keyword '%s' is not supported", k);
                return j->st;
            }
    }
    return SLM_OK;
}

/* Keywords that only annotate (ignored when deciding whether a $ref has
 * siblings to merge). */
int js_is_annotation(const char *k) {
    static const char *const ann[] = {"$schema", "$id", "id", "$comment", "title", "description",
                                      "default", "examples", "example", "deprecated", "readOnly",
                                      "writeOnly", "$defs", "definitions", "$anchor", "contentMediaType",
                                      "contentEncoding", "contentSchema", "$vocabulary", "markdownDescription"};
    for (size_t i = 0; i < sizeof ann / sizeof *ann; i++)
        if (!strcmp(k, ann[i])) return 1;
    return !strncmp(k, "x-", 2);
}

/* ---- $ref ------------------------------------------------------------ */

static json_t *resolve_ref(jsg *j, const char *ref) {
    if (ref[0] != '#') {
        js_fail(j, SLM_ERR_UNSUPPORTED, "$ref '%.200s' (only local '#...' references are supported)", ref);
        return NULL;
    }
    json_t *cur = j->root;
    const char *p = ref + 1;
    if (*p && *p != '/') {
        js_fail(j, SLM_ERR_UNSUPPORTED, "$ref '%.200s' (anchors are not supported)", ref);
        return NULL;
    }
    while (*p == '/') {
        p++;
        char tok[512];
        size_t n = 0;
        while (*p && *p != '/' && n + 1 < sizeof tok) {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1')) c = *p++ == '0' ? '~' : '/';
            else if (c == '%' && p[0] && p[1]) {
                unsigned x;
                if (sscanf(p, "%2x", &x) == 1) c = (char)x, p += 2;
            }
            tok[n++] = c;
        }
        tok[n] = '\0';
        if (json_is_object(cur)) cur = json_object_get(cur, tok);
        else if (json_is_array(cur)) {
            char *end;
            unsigned long idx = strtoul(tok, &end, 10);
            cur = *end ? NULL : json_array_get(cur, idx);
        } else cur = NULL;
        if (!cur) {
            js_fail(j, SLM_ERR_FORMAT, "$ref '%.200s' does not resolve", ref);
            return NULL;
        }
    }
    return cur;
}

static unsigned gen_ref_target(jsg *j, json_t *target) {
    for (size_t i = 0; i < j->n_refs; i++)
        if (j->refs[i].node == target) return j->refs[i].id;
    if (grow_array((void **)&j->refs, &j->cap_refs, j->n_refs + 1, sizeof *j->refs) != 0)
        return js_fail(j, SLM_ERR_NOMEM, "out of memory");
    unsigned id = js_new_id(j);
    j->refs[j->n_refs++] = (jsref){target, id};
    unsigned body = js_gen(j, target);
    if (!body) return 0;
    char buf[32];
    snprintf(buf, sizeof buf, "r%u", body);
    js_define(j, id, buf);
    return j->st ? 0 : id;
}

/* ---- allOf merging --------------------------------------------------- */

json_t *js_keep(jsg *j, json_t *v) {
    if (v) json_array_append_new(j->keep, v);
    return v;
}

/* A schema with its top-level $ref replaced by the target (merged with
 * siblings); booleans become {} / {"not":{}}. */
static json_t *deref(jsg *j, json_t *s, int depth);

static int types_of(json_t *t, const char **out) {
    int n = 0;
    if (json_is_string(t)) out[n++] = json_string_value(t);
    else if (json_is_array(t)) {
        size_t i;
        json_t *v;
        json_array_foreach(t, i, v) if (json_is_string(v) && n < 8) out[n++] = json_string_value(v);
    }
    return n;
}

static json_t *merge_type(json_t *a, json_t *b) {
    const char *ta[8], *tb[8];
    int na = types_of(a, ta), nb = types_of(b, tb);
    json_t *r = json_array();
    for (int x = 0; x < na; x++)
        for (int y = 0; y < nb; y++) {
            const char *t = NULL;
            if (!strcmp(ta[x], tb[y])) t = ta[x];
            else if ((!strcmp(ta[x], "integer") && !strcmp(tb[y], "number")) ||
                     (!strcmp(ta[x], "number") && !strcmp(tb[y], "integer")))
                t = "integer";
            if (t) json_array_append_new(r, json_string(t));
        }
    return r;
}

static json_t *pair_all_of(json_t *a, json_t *b) {
    json_t *r = json_object();
    json_t *arr = json_array();
    json_array_append(arr, a);
    json_array_append(arr, b);
    json_object_set_new(r, "allOf", arr);
    return r;
}

static int has_closed_props(json_t *s) {
    json_t *ap = json_object_get(s, "additionalProperties");
    return ap && !json_is_true(ap);
}

/* Properties of `other` not listed in `closed`'s properties. */
static int props_outside(json_t *closed, json_t *other) {
    json_t *pc = json_object_get(closed, "properties"), *po = json_object_get(other, "properties");
    const char *k;
    json_t *v;
    json_object_foreach(po, k, v) if (!json_object_get(pc, k) && !json_is_false(v)) return 1;
    json_t *req = json_object_get(other, "required");
    size_t i;
    json_array_foreach(req, i, v) if (json_is_string(v) && !json_object_get(pc, json_string_value(v))) return 1;
    return 0;
}

/* s without if / then / else that have no partner (no-ops on their own,
 * and they must not pair up with a partner from another merged schema). */
static json_t *strip_lone_conditionals(jsg *j, json_t *s) {
    int has_if = json_object_get(s, "if") != NULL;
    int has_branch = json_object_get(s, "then") || json_object_get(s, "else");
    if (has_if == has_branch) return s;
    json_t *r = js_keep(j, json_copy(s));
    json_object_del(r, "if"), json_object_del(r, "then"), json_object_del(r, "else");
    return r;
}

/* Whether s allows null by its type or nullable (no type: every type). */
static int null_ok(json_t *s) {
    json_t *t = json_object_get(s, "type");
    if (!t || json_is_true(json_object_get(s, "nullable"))) return 1;
    const char *ts[8];
    int n = types_of(t, ts);
    for (int k = 0; k < n; k++)
        if (!strcmp(ts[k], "null")) return 1;
    return 0;
}

static json_t *merge2(jsg *j, json_t *a, json_t *b) {
    a = strip_lone_conditionals(j, a);
    b = strip_lone_conditionals(j, b);
    if ((json_object_get(a, "if") && json_object_get(b, "if")) ||
        ((json_object_get(a, "if") || json_object_get(b, "if")) &&
         (json_object_get(a, "if") ? json_object_get(b, "then") || json_object_get(b, "else")
                                   : json_object_get(a, "then") || json_object_get(a, "else")))) {
        /* two conditionals: each becomes its anyOf first */
        if (js_has_logic(a) && !(a = js_rewrite_logic(j, a))) return NULL;
        if (js_has_logic(b) && !(b = js_rewrite_logic(j, b))) return NULL;
    }
    if ((json_object_get(a, "prefixItems") && json_object_get(b, "items")) ||
        (json_object_get(b, "prefixItems") && json_object_get(a, "items"))) {
        js_fail(j, SLM_ERR_UNSUPPORTED, "allOf combining items with prefixItems of another branch");
        return NULL;
    }
    if ((has_closed_props(a) && props_outside(a, b)) || (has_closed_props(b) && props_outside(b, a))) {
        js_fail(j, SLM_ERR_UNSUPPORTED, "allOf combining additionalProperties with other properties");
        return NULL;
    }
    json_t *r = json_copy(a);
    const char *k;
    json_t *vb;
    json_object_foreach(b, k, vb) {
        json_t *va = json_object_get(r, k);
        if (!va) {
            json_object_set(r, k, vb);
            continue;
        }
        if (json_equal(va, vb) || js_is_annotation(k)) continue;
        json_t *nv = NULL;
        if (!strcmp(k, "type")) nv = merge_type(va, vb);
        else if (!strcmp(k, "required")) {
            nv = json_copy(va);
            size_t i;
            json_t *x;
            json_array_foreach(vb, i, x) {
                int dup = 0;
                size_t q;
                json_t *y;
                json_array_foreach(nv, q, y) dup |= json_equal(x, y);
                if (!dup) json_array_append(nv, x);
            }
        } else if (!strcmp(k, "properties")) {
            nv = json_copy(va);
            const char *pk;
            json_t *pv;
            json_object_foreach(vb, pk, pv) {
                json_t *old = json_object_get(nv, pk);
                json_object_set_new(nv, pk, old ? pair_all_of(old, pv) : json_incref(pv));
            }
        } else if (!strcmp(k, "minLength") || !strcmp(k, "minItems") || !strcmp(k, "minimum") ||
                   !strcmp(k, "exclusiveMinimum")) {
            nv = json_incref(json_number_value(va) >= json_number_value(vb) ? va : vb);
        } else if (!strcmp(k, "maxLength") || !strcmp(k, "maxItems") || !strcmp(k, "maximum") ||
                   !strcmp(k, "exclusiveMaximum")) {
            nv = json_incref(json_number_value(va) <= json_number_value(vb) ? va : vb);
        } else if (!strcmp(k, "enum") && json_is_array(va) && json_is_array(vb)) {
            nv = json_array();
            size_t i, q;
            json_t *x, *y;
            json_array_foreach(va, i, x) json_array_foreach(vb, q, y) if (json_equal(x, y)) {
                json_array_append(nv, x);
                break;
            }
        } else if (!strcmp(k, "allOf") || !strcmp(k, "$slm_not_numbers")) {
            nv = json_copy(va);
            json_array_extend(nv, vb);
        } else if (!strcmp(k, "not") || !strcmp(k, "$slm_not_string")) { /* not A and not B */
            nv = json_pack("{s:[O,O]}", "anyOf", va, vb);
        } else if (!strcmp(k, "minProperties") || !strcmp(k, "minContains")) {
            nv = json_incref(json_number_value(va) >= json_number_value(vb) ? va : vb);
        } else if (!strcmp(k, "maxProperties") || !strcmp(k, "maxContains")) {
            nv = json_incref(json_number_value(va) <= json_number_value(vb) ? va : vb);
        } else if (!strcmp(k, "items") || !strcmp(k, "additionalProperties")) {
            if (json_is_object(va) && json_is_object(vb)) nv = pair_all_of(va, vb);
            else if (json_is_false(va) || json_is_false(vb)) nv = json_false();
            else if (json_is_true(va)) nv = json_incref(vb);
            else if (json_is_true(vb)) nv = json_incref(va);
        } else if (!strcmp(k, "anyOf") || !strcmp(k, "oneOf")) {
            /* (A1|A2) & (B1|B2): keep one, push the other down as allOf */
            json_t *sub = json_object();
            json_object_set(sub, k, vb);
            json_t *all = json_object_get(r, "allOf");
            all = all ? json_copy(all) : json_array(); /* r is shallow: never change shared arrays */
            json_array_append_new(all, sub);
            json_object_set_new(r, "allOf", all);
            continue;
        }
        if (!nv) {
            json_decref(r);
            js_fail(j, SLM_ERR_UNSUPPORTED, "allOf: cannot combine two different '%s' keywords", k);
            return NULL;
        }
        json_object_set_new(r, k, nv);
    }
    /* OpenAPI's nullable adds null to one schema's types, not to the
     * other's: the merge allows null only when both do */
    if (json_is_true(json_object_get(r, "nullable")) && !(null_ok(a) && null_ok(b))) json_object_del(r, "nullable");
    return js_keep(j, r);
}

static json_t *deref(jsg *j, json_t *s, int depth) {
    if (depth > MAX_SCHEMA_DEPTH) {
        js_fail(j, SLM_ERR_UNSUPPORTED, "$ref chain too deep (recursive allOf?)");
        return NULL;
    }
    if (json_is_true(s)) return js_keep(j, json_object());
    if (json_is_false(s)) return js_keep(j, json_pack("{s:{}}", "not"));
    if (!json_is_object(s)) {
        js_fail(j, SLM_ERR_FORMAT, "a schema must be an object or a boolean");
        return NULL;
    }
    json_t *ref = json_object_get(s, "$ref");
    if (!json_is_string(ref)) return s;
    json_t *target = resolve_ref(j, json_string_value(ref));
    if (!target) return NULL;
    target = deref(j, target, depth + 1);
    if (!target) return NULL;
    json_t *rest = js_keep(j, json_copy(s));
    json_object_del(rest, "$ref");
    return merge2(j, target, rest);
}

json_t *js_deref(jsg *j, json_t *s) { return deref(j, s, 0); }

static unsigned gen_all_of(jsg *j, json_t *s) {
    json_t *all = json_object_get(s, "allOf");
    if (!json_is_array(all)) return js_fail(j, SLM_ERR_FORMAT, "allOf must be an array");
    json_t *acc = js_keep(j, json_copy(s));
    json_object_del(acc, "allOf");
    size_t i;
    json_t *sub;
    json_array_foreach(all, i, sub) {
        json_t *d = deref(j, sub, 0);
        if (!d) return 0;
        if (json_is_object(json_object_get(d, "not")) && json_object_size(json_object_get(d, "not")) == 0)
            return 2; /* false schema: nothing is valid */
        if (js_has_logic(d) && !(d = js_rewrite_logic(j, d))) return 0;
        acc = merge2(j, acc, d);
        if (!acc) return 0;
    }
    return js_gen(j, acc);
}

/* ---- anyOf / oneOf / enum / const / type ------------------------------- */

#define MAX_EXACT_ONE_OF 12

/* oneOf whose branches may overlap, exactly: anyOf over i of
 * allOf[branch i, not branch j for every j != i]. Needs each branch's
 * negation (json_schema_not.c); when one is not expressible the error
 * says which keyword. */
static unsigned gen_one_of_exact(jsg *j, json_t *s, json_t *arr) {
    size_t n = json_array_size(arr);
    if (n > MAX_EXACT_ONE_OF)
        return js_fail(j, SLM_ERR_UNSUPPORTED, "oneOf with more than %d branches that may overlap", MAX_EXACT_ONE_OF);
    json_t *alts = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *all = json_array();
        json_array_append(all, json_array_get(arr, i));
        for (size_t k = 0; k < n; k++)
            if (k != i) json_array_append_new(all, json_pack("{s:O}", "not", json_array_get(arr, k)));
        json_array_append_new(alts, json_pack("{s:o}", "allOf", all));
    }
    json_t *rest = js_keep(j, json_copy(s));
    json_object_del(rest, "oneOf");
    unsigned id = js_gen(j, js_keep(j, json_pack("{s:[O,{s:o}]}", "allOf", rest, "anyOf", alts)));
    if (!id && j->st == SLM_ERR_UNSUPPORTED) slm_error_prefix(j->err, "oneOf with branches that may overlap");
    return id;
}

static unsigned gen_any_of(jsg *j, json_t *s, const char *key) {
    json_t *arr = json_object_get(s, key);
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return js_fail(j, SLM_ERR_FORMAT, "%s must be a non-empty array", key);
    /* oneOf is anyOf when no two branches can both match; else exact */
    if (!strcmp(key, "oneOf") && !j->o.one_of_as_any_of && !js_branches_disjoint(j, arr)) {
        if (j->st) return 0;
        return gen_one_of_exact(j, s, arr);
    }
    json_t *rest = js_keep(j, json_copy(s));
    json_object_del(rest, key);
    int has_rest = 0;
    const char *k;
    json_t *v;
    json_object_foreach(rest, k, v) has_rest |= !js_is_annotation(k);
    gstr body = {0};
    size_t i;
    json_t *sub;
    json_array_foreach(arr, i, sub) {
        json_t *b = sub;
        if (has_rest) {
            json_t *d = deref(j, sub, 0);
            b = d ? merge2(j, rest, d) : NULL;
        }
        unsigned id = b ? js_gen(j, b) : 0;
        if (!id) break;
        gstr_printf(&body, "%sr%u", i ? " | " : "", id);
    }
    unsigned id = j->st ? 0 : js_rule(j, body.p);
    gstr_free(&body);
    return id;
}

int js_num_ok(json_t *s, double x) {
    json_t *v;
    if ((v = json_object_get(s, "minimum")) && json_is_number(v) && x < json_number_value(v)) return 0;
    if ((v = json_object_get(s, "maximum")) && json_is_number(v) && x > json_number_value(v)) return 0;
    if ((v = json_object_get(s, "exclusiveMinimum")) && json_is_number(v) && x <= json_number_value(v)) return 0;
    if ((v = json_object_get(s, "exclusiveMaximum")) && json_is_number(v) && x >= json_number_value(v)) return 0;
    if ((v = json_object_get(s, "multipleOf")) && json_is_number(v) && json_number_value(v) > 0) {
        double q = x / json_number_value(v);
        if (fabs(q - round(q)) > 1e-9 * fmax(1.0, fabs(q))) return 0;
    }
    /* the negations' internal keywords (json_schema_not.c): values by
     * number (1 and 1.0 are one value), multiples, integers */
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(s, "$slm_not_numbers"), i, w) if (json_is_number(w) && json_number_value(w) == x) return 0;
    if ((v = json_object_get(s, "$slm_not_multipleOf")) && json_is_number(v) && json_number_value(v) > 0) {
        double q = x / json_number_value(v);
        if (fabs(q - round(q)) <= 1e-9 * fmax(1.0, fabs(q))) return 0;
    }
    if (json_is_true(json_object_get(s, "$slm_fraction")) && x == floor(x)) return 0;
    return 1;
}

/* The string keywords of s as a DFA (NULL-free result in *d, *has = 0
 * when s has none). */
static int string_filter(jsg *j, json_t *s, sdfa *d, int *has) {
    static const char *const kw[] = {"pattern", "minLength", "maxLength", "$slm_not_string", "format"};
    json_t *only = json_object();
    *has = 0;
    for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
        if (json_object_get(s, kw[i])) json_object_set(only, kw[i], json_object_get(s, kw[i])), *has = 1;
    int rc = *has ? js_string_dfa(j, js_keep(j, only), d) : (json_decref(only), 0);
    return rc;
}

/* const/enum: the listed values that also satisfy the schema's type,
 * string and number keywords, objects and arrays all the sibling keywords
 * (json_schema_value.c) (both const and enum: values in both). */
static unsigned gen_enum(jsg *j, json_t *s) {
    json_t *c = json_object_get(s, "const"), *e = json_object_get(s, "enum");
    if (e && !json_is_array(e)) return js_fail(j, SLM_ERR_FORMAT, "enum must be an array");
    sdfa sd;
    int has_str = 0;
    if (string_filter(j, s, &sd, &has_str)) return 0;
    json_t *vals = c ? json_pack("[O]", c) : json_incref(e);
    json_t *siblings = js_keep(j, json_copy(s)); /* what a listed object or array must also satisfy */
    json_object_del(siblings, "const");
    json_object_del(siblings, "enum");
    gstr body = {0};
    int any = 0;
    size_t i, q;
    json_t *v, *w;
    json_array_foreach(vals, i, v) {
        int in_enum = !c || !e;
        if (!in_enum) /* both const and enum: the const must be listed */
            json_array_foreach(e, q, w) in_enum |= json_equal(v, w);
        if (!in_enum || !js_value_type_ok(s, v)) continue;
        if (has_str && json_is_string(v) && !sdfa_match(&sd, json_string_value(v), json_string_length(v))) continue;
        if (json_is_number(v) && !js_num_ok(s, json_number_value(v))) continue;
        int cont = json_is_object(v) || json_is_array(v) ? js_value_valid(j, siblings, v) : 1;
        if (cont < 0) break;
        if (!cont) continue;
        if (any) gstr_puts(&body, " | ");
        js_put_literal(j, &body, v);
        any = 1;
    }
    json_decref(vals);
    if (has_str) sdfa_free(&sd);
    unsigned id = any ? js_rule(j, body.p) : 2;
    gstr_free(&body);
    return j->st ? 0 : id;
}

static unsigned gen_type(jsg *j, json_t *s, const char *t) {
    if (!strcmp(t, "null")) return js_rule(j, "\"null\"");
    if (!strcmp(t, "boolean")) return js_rule(j, "\"true\" | \"false\"");
    if (!strcmp(t, "object")) return js_gen_object(j, s);
    if (!strcmp(t, "array")) return js_gen_array(j, s);
    if (!strcmp(t, "string")) return js_gen_string(j, s);
    if (!strcmp(t, "number")) return js_gen_number(j, s, 0);
    if (!strcmp(t, "integer")) return js_gen_number(j, s, 1);
    return js_fail(j, SLM_ERR_FORMAT, "unknown type '%.100s'", t);
}

static unsigned gen_types(jsg *j, json_t *s) {
    static const char *const all[] = {"null", "boolean", "object", "array", "string", "number"};
    const char *ts[8];
    json_t *t = json_object_get(s, "type");
    int n = t ? types_of(t, ts) : 0;
    if (json_is_array(t) && json_array_size(t) == 0) return 2; /* e.g. an empty allOf intersection */
    if (t && (n == 0 || (json_is_array(t) && (size_t)n != json_array_size(t))))
        return js_fail(j, SLM_ERR_FORMAT, "type must be a string or an array of strings");
    if (!t) {
        for (int i = 0; i < 6; i++) ts[i] = all[i];
        n = 6;
    }
    int has_number = 0;
    for (int i = 0; i < n; i++) has_number |= !strcmp(ts[i], "number");
    json_t *nullable = json_object_get(s, "nullable");
    gstr body = {0};
    int k = 0;
    for (int i = 0; i < n && !j->st; i++) {
        if (has_number && !strcmp(ts[i], "integer")) continue;
        unsigned id = gen_type(j, s, ts[i]);
        if (id) gstr_printf(&body, "%sr%u", k++ ? " | " : "", id);
    }
    if (json_is_true(nullable)) gstr_puts(&body, " | \"null\"");
    unsigned id = j->st ? 0 : js_rule(j, body.p);
    gstr_free(&body);
    return id;
}

unsigned js_gen(jsg *j, json_t *s) {
    if (j->st) return 0;
    if (json_is_true(s)) return 1;
    if (json_is_false(s)) return 2;
    if (!json_is_object(s)) return js_fail(j, SLM_ERR_FORMAT, "a schema must be an object or a boolean");
    if (++j->work > MAX_GEN_WORK)
        return js_fail(j, SLM_ERR_UNSUPPORTED, "schema too complex (not/oneOf/if expand to more than %d sub-schemas)", MAX_GEN_WORK);
    if (++j->depth > MAX_SCHEMA_DEPTH) return js_fail(j, SLM_ERR_UNSUPPORTED, "schema nested too deeply");
    unsigned id = 0;
    json_t *ref = json_object_get(s, "$ref");
    int ref_only = 1;
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v) ref_only &= !strcmp(k, "$ref") || js_is_annotation(k);
    ref_only |= j->ref_overrides;
    if (check_keywords(j, s)) id = 0;
    else if (ref && !json_is_string(ref)) id = js_fail(j, SLM_ERR_FORMAT, "$ref must be a string");
    else if (ref && ref_only) {
        json_t *target = resolve_ref(j, json_string_value(ref));
        id = target ? gen_ref_target(j, target) : 0;
    } else if (ref) {
        json_t *d = deref(j, s, 0);
        id = d ? js_gen(j, d) : 0;
    } else if (js_has_logic(s)) {
        json_t *d = js_rewrite_logic(j, s);
        id = d ? js_gen(j, d) : 0;
    } else if (json_object_get(s, "anyOf")) id = gen_any_of(j, s, "anyOf"); /* before allOf: each pass */
    else if (json_object_get(s, "oneOf")) id = gen_any_of(j, s, "oneOf");  /* removes one alternative level */
    else if (json_object_get(s, "allOf")) id = gen_all_of(j, s);
    else if (json_object_get(s, "const") || json_object_get(s, "enum")) id = gen_enum(j, s);
    else if (json_is_object(json_object_get(s, "not")) && json_object_size(json_object_get(s, "not")) == 0)
        id = 2;
    else id = gen_types(j, s);
    j->depth--;
    return j->st ? 0 : id;
}

/* ---- public API ------------------------------------------------------ */

static slm_status to_gbnf_root(json_t *schema, const slm_json_schema_opts *opts, char **gbnf, slm_error *err) {
    jsg j = {0};
    if (opts) j.o = *opts;
    j.root = schema;
    j.err = err;
    j.next_id = 4; /* r1 any, r2 never, r3 the root */
    j.keep = json_array();
    gstr_puts(&j.rules, PREAMBLE);
    gstr_puts(&j.rules, j.o.allow_whitespace ? "ws ::= [ \\t\\n\\r]{0,20}\n" : "ws ::= \n");
    json_t *dialect = json_object_get(schema, "$schema");
    if (json_is_string(dialect) && !strstr(json_string_value(dialect), "json-schema.org/"))
        js_fail(&j, SLM_ERR_UNSUPPORTED, "$schema '%.200s' (unknown dialect)", json_string_value(dialect));
    j.ref_overrides = json_is_string(dialect) && strstr(json_string_value(dialect), "draft-0") != NULL;
    unsigned id = j.keep && !j.st ? js_gen(&j, schema) : js_fail(&j, SLM_ERR_NOMEM, "out of memory");
    if (id) gstr_printf(&j.rules, "r3 ::= r%u\n", id);
    if (j.rules.p && (strstr(j.rules.p, "jtime") || strstr(j.rules.p, "juri"))) gstr_puts(&j.rules, FORMAT_RULES);
    if (j.rules.oom) js_fail(&j, SLM_ERR_NOMEM, "out of memory");
    json_decref(j.keep);
    free(j.refs);
    if (j.st) {
        gstr_free(&j.rules);
        return j.st;
    }
    *gbnf = j.rules.p;
    return SLM_OK;
}

slm_status slm_grammar_json_schema_to_gbnf(const char *schema, size_t len, const slm_json_schema_opts *opts,
                                           char **gbnf, slm_error *err) {
    if (!gbnf || (!schema && len)) return slm_error_set(err, SLM_ERR_INVALID_ARG, "json schema: NULL argument");
    *gbnf = NULL;
    json_error_t je;
    json_t *root = json_loadb(schema, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return slm_error_set(err, SLM_ERR_FORMAT, "json schema: invalid JSON at line %d col %d: %s", je.line,
                             je.column, je.text);
    slm_status st = to_gbnf_root(root, opts, gbnf, err);
    json_decref(root);
    return st;
}

slm_status slm_grammar_compile_json_schema(const char *schema, size_t len, const slm_json_schema_opts *opts,
                                           slm_grammar **out, slm_error *err) {
    if (!out) return slm_error_set(err, SLM_ERR_INVALID_ARG, "json schema: NULL out");
    *out = NULL;
    char *g = NULL;
    slm_status st = slm_grammar_json_schema_to_gbnf(schema, len, opts, &g, err);
    if (st == SLM_OK) st = grammar_from_generated(g, strlen(g), out, err);
    free(g);
    /* the generated grammar's rule names mean nothing to the caller: say
     * what in the schema makes a rule reach itself without input */
    if (st && err && strstr(err->msg, "left recursion"))
        slm_error_set(err, SLM_ERR_UNSUPPORTED,
                      "json schema: a $ref cycle that reaches the same schema again before any object, array or "
                      "string is opened (e.g. through allOf/anyOf/oneOf/not), which no grammar can expand");
    return st;
}

slm_status slm_grammar_compile_json_object(const slm_json_schema_opts *opts, slm_grammar **out, slm_error *err) {
    static const char schema[] = "{\"type\":\"object\"}";
    return slm_grammar_compile_json_schema(schema, sizeof schema - 1, opts, out, err);
}
