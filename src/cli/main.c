/* slm command-line entry point: dispatches to subcommands. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"run", cli_run, "generate text from a GGUF model (one-shot or interactive)"},
    {"show", cli_show, "describe a GGUF model: architecture, size, quantization, memory"},
    {"serve", cli_serve, "OpenAI- and Ollama-compatible HTTP server (concurrent, batched)"},
    {"eval", cli_eval, "measure models and servers on a suite of cases; reports, diff, CI gate"},
    {"bench", cli_bench, "measure prompt processing and generation speed"},
    {"pull", cli_pull, "download a model from the Ollama registry or Hugging Face (verified, resumable)"},
    {"list", cli_list, "list the models in the store"},
    {"rm", cli_rm, "remove models from the store"},
    {"scan", cli_scan, "check that a model file is safe to load (GGUF only; never unpickles)"},
    {"fit", cli_fit, "will a model fit in this machine's memory? (weights, KV cache, compute)"},
    {"ps", cli_ps, "list the models loaded in a running slm serve"},
    {"route", cli_route, "explain which tier and model a request would be routed to, and why"},
    {"usage", cli_usage, "router ledger report: requests, tokens and cost per tier, escalations"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f, "usage: slm <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "  %-8s %s\n", "help", "help for a command (slm help CMD)");
    fprintf(f, "\nrun 'slm CMD --help' for a command's options\n");
}

static const command *find_command(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0) return &COMMANDS[i];
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const command *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "slm help: unknown command '%s'\n", argv[2]);
            return 2;
        }
        char *help_argv[] = {argv[2], "--help", NULL};
        return c->fn(2, help_argv);
    }
    const command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "slm: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    return c->fn(argc - 1, argv + 1);
}
