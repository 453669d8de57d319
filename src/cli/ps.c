/* `slm ps`: placeholder until the /api/ps client lands. */
#include "cli.h"
#include <stdio.h>
int cli_ps(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "slm ps: not implemented yet\n");
    return 1;
}
