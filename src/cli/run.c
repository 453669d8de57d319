/* `slm run MODEL.gguf [PROMPT]`: one-shot generation streamed to stdout, or
 * an interactive session (one completion per input line) without a
 * prompt. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "slm/engine.h"

typedef struct run_opts {
    slm_engine_params engine;
    slm_gen_params gen;
    const char *model, *prompt;
    bool stats, raw;
    const char *schema_file, *grammar_file; /* constrained output */
    json_t *messages; /* chat mode: the conversation so far */
} run_opts;

static void run_usage(FILE *f) {
    fprintf(f,
            "usage: slm run MODEL [PROMPT] [options]\n"
            "  MODEL: a GGUF file or a name in the store (slm pull / slm list)\n"
            "  Generates text from PROMPT (streamed as produced). Without PROMPT: an\n"
            "  interactive session (Ctrl-D ends). A model with a chat template is\n"
            "  chatted with (the prompt becomes a user message; the session keeps the\n"
            "  conversation); other models complete the text as given.\n"
            "options:\n"
            "  -n, --n-predict N    tokens to generate (default -1: until end of text or context full)\n"
            "  --temp T             temperature (default 0.8; 0 = greedy)\n"
            "  --top-k K            top-k (default 40; 0 = off)\n"
            "  --top-p P            nucleus sampling (default 0.95; 1 = off)\n"
            "  --min-p P            min-p (default 0.05; 0 = off)\n"
            "  --repeat-penalty R   repetition penalty (default 1.0 = off)\n"
            "  --repeat-last-n N    penalty window (default 64)\n"
            "  --seed S             random seed (default -1: random)\n"
            "  -t, --threads N      threads (default: all cores)\n"
            "  -c, --ctx N          context size in tokens (default: the model's, max 4096)\n"
            "  --no-echo            do not print the prompt before the output\n"
            "  --raw                ignore the model's chat template: plain completion\n"
            "  --json-schema FILE   constrain the output to JSON valid against the schema in FILE\n"
            "  --grammar FILE       constrain the output to the GBNF grammar in FILE (root rule: root)\n"
            "  --special            parse special-token texts (like <s>) in the prompt\n"
            "  --stats              print timings to stderr at the end\n");
}

static int parse_sampling(const char *a, int argc, char **argv, int *i, slm_sampler_params *s) {
    const char *v;
    double d;
    int64_t n;
    if (strcmp(a, "--temp") == 0) {
        if (!(v = cli_value("run", argc, argv, i)) || !cli_parse_float("run", a, v, 0, 100, &d)) return -1;
        s->temperature = (float)d;
    } else if (strcmp(a, "--top-k") == 0) {
        if (!(v = cli_value("run", argc, argv, i)) || !cli_parse_int("run", a, v, 0, INT32_MAX, &n)) return -1;
        s->top_k = (int32_t)n;
    } else if (strcmp(a, "--top-p") == 0) {
        if (!(v = cli_value("run", argc, argv, i)) || !cli_parse_float("run", a, v, 0, 1, &d)) return -1;
        s->top_p = (float)d;
    } else if (strcmp(a, "--min-p") == 0) {
        if (!(v = cli_value("run", argc, argv, i)) || !cli_parse_float("run", a, v, 0, 1, &d)) return -1;
        s->min_p = (float)d;
    } else if (strcmp(a, "--repeat-penalty") == 0) {
        if (!(v = cli_value("run", argc, argv, i)) || !cli_parse_float("run", a, v, 0, 100, &d)) return -1;
        s->repeat_penalty = (float)d;
    } else if (strcmp(a, "--repeat-last-n") == 0) {
        if (!(v = cli_value("run", argc, argv, i)) || !cli_parse_int("run", a, v, -1, 1 << 20, &n)) return -1;
        s->repeat_last_n = (int32_t)n;
    } else if (strcmp(a, "--seed") == 0) {
        if (!(v = cli_value("run", argc, argv, i)) || !cli_parse_u64("run", a, v, &s->seed)) return -1;
    } else {
        return 0;
    }
    return 1;
}

/* 1: consumed, 0: not an engine/gen option, -1: error. */
static int parse_option(const char *a, int argc, char **argv, int *i, run_opts *o) {
    const char *v;
    int64_t n;
    int r = parse_sampling(a, argc, argv, i, &o->gen.sampling);
    if (r != 0) return r;
    if (strcmp(a, "-n") == 0 || strcmp(a, "--n-predict") == 0) {
        if (!(v = cli_value("run", argc, argv, i)) || !cli_parse_int("run", a, v, -1, INT32_MAX, &n)) return -1;
        o->gen.n_predict = (int32_t)n;
    } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
        if (!(v = cli_value("run", argc, argv, i)) || !cli_parse_int("run", a, v, 1, 512, &n)) return -1;
        o->engine.n_threads = (int)n;
    } else if (strcmp(a, "-c") == 0 || strcmp(a, "--ctx") == 0) {
        if (!(v = cli_value("run", argc, argv, i)) || !cli_parse_int("run", a, v, 1, 1 << 24, &n)) return -1;
        o->engine.n_ctx = (int32_t)n;
    } else if (strcmp(a, "--no-echo") == 0) {
        o->gen.echo_prompt = false;
    } else if (strcmp(a, "--raw") == 0) {
        o->raw = true;
    } else if (strcmp(a, "--json-schema") == 0) {
        if (!(o->schema_file = cli_value("run", argc, argv, i))) return -1;
    } else if (strcmp(a, "--grammar") == 0) {
        if (!(o->grammar_file = cli_value("run", argc, argv, i))) return -1;
    } else if (strcmp(a, "--special") == 0) {
        o->gen.parse_special = true;
    } else if (strcmp(a, "--stats") == 0) {
        o->stats = true;
    } else {
        return 0;
    }
    return 1;
}

static int parse_args(int argc, char **argv, run_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            run_usage(stdout);
            return 1;
        }
        int r = a[0] == '-' && a[1] ? parse_option(a, argc, argv, &i, o) : 0;
        if (r < 0) return 2;
        if (r > 0) continue;
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "slm run: unknown option '%s' (see slm run --help)\n", a);
            return 2;
        }
        if (!o->model) o->model = a;
        else if (!o->prompt) o->prompt = a;
        else {
            fprintf(stderr, "slm run: unexpected argument '%s' (quote the prompt)\n", a);
            return 2;
        }
    }
    if (!o->model) {
        run_usage(stderr);
        return 2;
    }
    return 0;
}

typedef struct reply {
    char *text;
    size_t len, cap;
} reply;

/* Streams a piece to stdout and keeps it (chat mode needs the reply). */
static bool print_piece(const char *piece, size_t len, void *user) {
    reply *r = user;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    if (r && r->len + len + 1 > r->cap) {
        size_t cap = (r->len + len + 1) * 2;
        char *t = realloc(r->text, cap);
        if (!t) return false;
        r->text = t;
        r->cap = cap;
    }
    if (r) {
        memcpy(r->text + r->len, piece, len);
        r->len += len;
        r->text[r->len] = '\0';
    }
    return true;
}

static void print_stats(const slm_gen_stats *s) {
    fprintf(stderr, "\nslm: load %.2f s | prompt %d tokens in %.3f s (%.1f tok/s) | ttft %.3f s | "
                    "generated %d tokens in %.3f s (%.1f tok/s)\n",
            s->t_load_s, s->n_prompt, s->t_prompt_s, s->t_prompt_s > 0 ? s->n_prompt / s->t_prompt_s : 0.0,
            s->ttft_s, s->n_gen, s->t_gen_s, s->t_gen_s > 0 ? s->n_gen / s->t_gen_s : 0.0);
}

static int generate_text(slm_engine *e, const run_opts *o, const slm_gen_params *gp, const char *prompt,
                         size_t len, reply *r) {
    slm_error err = {0};
    slm_gen_stats stats;
    slm_status st = slm_engine_generate(e, prompt, len, gp, print_piece, r, &stats, &err);
    printf("\n");
    fflush(stdout);
    if (st != SLM_OK) {
        fprintf(stderr, "slm run: %s\n", err.msg);
        return 1;
    }
    if (o->stats) print_stats(&stats);
    return 0;
}

/* Chat mode: the user's text becomes a message, the model's template makes
 * the prompt, and the reply is added to the conversation. */
static int chat_turn(slm_engine *e, run_opts *o, const char *user_text) {
    slm_error err = {0};
    json_array_append_new(o->messages, json_pack("{s:s,s:s}", "role", "user", "content", user_text));
    char *prompt = NULL;
    size_t len = 0;
    if (slm_engine_render_chat(e, o->messages, NULL, true, NULL, &prompt, &len, &err) != SLM_OK) {
        fprintf(stderr, "slm run: %s\n", err.msg);
        return 1;
    }
    slm_gen_params gp = o->gen;
    gp.echo_prompt = false;
    gp.parse_special = true;
    reply r = {0};
    int rc = generate_text(e, o, &gp, prompt, len, &r);
    free(prompt);
    json_array_append_new(o->messages, json_pack("{s:s,s:s%}", "role", "assistant", "content",
                                                 r.text ? r.text : "", r.len));
    free(r.text);
    return rc;
}

static int generate_once(slm_engine *e, run_opts *o, const char *prompt) {
    if (o->messages) return chat_turn(e, o, prompt);
    return generate_text(e, o, &o->gen, prompt, strlen(prompt), NULL);
}

static int interactive(slm_engine *e, run_opts *o) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    o->gen.echo_prompt = false;
    if (o->messages) fprintf(stderr, "slm: chat session with the model's template (--raw for plain completion)\n");
    else fprintf(stderr, "slm: interactive session, one completion per line; Ctrl-D to end\n");
    for (;;) {
        fprintf(stderr, "> ");
        if ((n = getline(&line, &cap, stdin)) < 0) break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0) continue;
        generate_once(e, o, line);
    }
    free(line);
    fprintf(stderr, "\n");
    return 0;
}

/* Reads a whole (small) file; NULL after printing why. */
static char *read_small_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "slm run: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 4096 > cap) {
            if (cap > (64u << 20)) {
                fprintf(stderr, "slm run: %s is too large (over 64 MiB)\n", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap + 1);
            if (!nb) break;
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    if (!buf) return NULL;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Compiles --json-schema / --grammar; false after printing the error. */
static bool load_constraint(const run_opts *o, slm_grammar **out) {
    const char *path = o->schema_file ? o->schema_file : o->grammar_file;
    *out = NULL;
    if (!path) return true;
    if (o->schema_file && o->grammar_file) {
        fprintf(stderr, "slm run: use either --json-schema or --grammar, not both\n");
        return false;
    }
    size_t len = 0;
    char *text = read_small_file(path, &len);
    if (!text) return false;
    slm_error err = {0};
    slm_status st = o->schema_file ? slm_grammar_compile_json_schema(text, len, NULL, out, &err)
                                   : slm_grammar_compile_gbnf(text, len, "root", out, &err);
    free(text);
    if (st != SLM_OK) fprintf(stderr, "slm run: %s: %s\n", path, err.msg);
    return st == SLM_OK;
}

int cli_run(int argc, char **argv) {
    run_opts o = {0};
    slm_gen_params_default(&o.gen);
    o.gen.echo_prompt = true;
    int r = parse_args(argc, argv, &o);
    if (r != 0) return r == 1 ? 0 : r;
    char path[4096];
    if (!cli_resolve_model("run", o.model, path, sizeof path)) return 1;
    o.engine.model_path = path;
    slm_grammar *grammar = NULL;
    if (!load_constraint(&o, &grammar)) return 1;
    o.gen.grammar = grammar;
    slm_error err = {0};
    slm_engine *e = NULL;
    if (slm_engine_open(&o.engine, &e, &err) != SLM_OK) {
        fprintf(stderr, "slm run: %s\n", err.msg);
        slm_grammar_free(grammar);
        return 1;
    }
    if (!o.raw && slm_engine_has_chat_template(e)) o.messages = json_array();
    int rc = o.prompt ? generate_once(e, &o, o.prompt) : interactive(e, &o);
    json_decref(o.messages);
    slm_engine_close(e);
    slm_grammar_free(grammar);
    return rc;
}
