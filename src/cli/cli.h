/* Shared pieces of the slm CLI: subcommand entry points and option
 * parsing helpers that give clear errors for bad values. */
#ifndef SLM_CLI_H
#define SLM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int cli_run(int argc, char **argv);
int cli_show(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_eval(int argc, char **argv);
/* Store commands (store_cmds.c). */
int cli_pull(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_rm(int argc, char **argv);
int cli_scan(int argc, char **argv);
int cli_fit(int argc, char **argv); /* fit.c: memory planner */
int cli_ps(int argc, char **argv);  /* ps.c: models loaded in a running server */
/* Router commands (route_cmds.c). */
int cli_route(int argc, char **argv);
int cli_usage(int argc, char **argv);
/* A model argument (file path, store name, pinned name) -> GGUF path;
 * prints "slm CMD: ..." and returns false when it cannot be resolved. */
bool cli_resolve_model(const char *cmd, const char *arg, char *path, size_t cap);

/* Parse helpers: print "slm CMD: bad value for OPT: VALUE" and return false. */
bool cli_parse_int(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
bool cli_parse_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
bool cli_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
/* Returns the option's value (argv[++*i]) or NULL after printing an error. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);
/* Human-readable byte count ("1.5 GiB"). */
const char *cli_bytes(uint64_t n, char *buf, int cap);

#endif
