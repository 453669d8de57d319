/* Replays fuzz targets over seed files without libFuzzer, so every normal
 * build runs the fuzz corpus as a regression test. Arguments are files or
 * directories (missing ones are skipped with a note); each file is fed to
 * LLVMFuzzerTestOneInput whole, and then truncated at a few lengths, since
 * truncation is the commonest corruption. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
        fclose(f);
        free(buf);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    size_t cuts[] = {(size_t)n, (size_t)n / 2, (size_t)n / 7, 64, 24, 8, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        if (cuts[i] > (size_t)n) continue;
        /* a fresh copy of exactly the cut length lets ASan see overreads */
        uint8_t *copy = malloc(cuts[i] ? cuts[i] : 1);
        memcpy(copy, buf, cuts[i]);
        LLVMFuzzerTestOneInput(copy, cuts[i]);
        free(copy);
    }
    free(buf);
    return 0;
}

static int replay_path(const char *path, int *count) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: skipping missing %s\n", path);
        return 0;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return replay_file(path);
    }
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        rc |= replay_path(child, count);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv) {
    int rc = 0, count = 0;
    for (int i = 1; i < argc; i++) rc |= replay_path(argv[i], &count);
    printf("replayed %d inputs\n", count);
    return rc;
}
