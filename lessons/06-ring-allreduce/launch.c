/* launch.c — the driver's side of MPI: build the mpirun command line this machine needs,
 * start it under `timeout` (so a hung job is killed, never waited on forever), and read
 * back the CSV rows rank 0 wrote. The driver itself never calls MPI.
 *
 * Flags and why: --allow-run-as-root (Open MPI refuses root otherwise; containers and CI
 * run as root), --oversubscribe (more ranks than cores is the point of the 2-core runs),
 * --bind-to none (bound ranks would share one core when oversubscribed), and with more
 * ranks than cores mpi_yield_when_idle=1 (a rank waiting for a message yields the core
 * instead of spinning on it). --hostfile FILE spreads the ranks over machines.
 * Leaves out: other MPI launchers (srun, mpiexec.hydra).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "ar_lesson.h"

int ar_mpirun_argv(const ar_config *cfg, int np, const char *const *mca,
                   const char *const *args, int limit_s, const char **argv, int cap,
                   char *scratch, size_t scratch_len) {
    int n = 0;
    size_t used = 0;
#define PUSH(s)                                                                             \
    do {                                                                                    \
        if (n >= cap - 1) return -1;                                                        \
        argv[n++] = (s);                                                                    \
    } while (0)
    /* a small string kept in scratch */
#define PUSH_FMT(...)                                                                       \
    do {                                                                                    \
        int len_ = snprintf(scratch + used, scratch_len - used, __VA_ARGS__);              \
        if (len_ < 0 || used + (size_t)len_ + 1 > scratch_len) return -1;                  \
        PUSH(scratch + used);                                                               \
        used += (size_t)len_ + 1;                                                           \
    } while (0)
    PUSH("timeout");
    PUSH("-k");
    PUSH("5");
    PUSH_FMT("%d", limit_s);
    PUSH("mpirun");
    PUSH("--allow-run-as-root");
    PUSH("--oversubscribe");
    PUSH("--bind-to");
    PUSH("none");
    PUSH("-np");
    PUSH_FMT("%d", np);
    if (cfg->hostfile) {
        PUSH("--hostfile");
        PUSH(cfg->hostfile);
    }
    if (np > cfg->cores) {
        PUSH("--mca");
        PUSH("mpi_yield_when_idle");
        PUSH("1");
    }
    for (int i = 0; mca && mca[i]; i++) {
        const char *eq = strchr(mca[i], '=');
        if (!eq) return -1;
        PUSH("--mca");
        PUSH_FMT("%.*s", (int)(eq - mca[i]), mca[i]);
        PUSH(eq + 1);
    }
    PUSH(cfg->self);
    PUSH("--worker");
    for (int i = 0; args && args[i]; i++) PUSH(args[i]);
    argv[n] = NULL;
    return n;
#undef PUSH
#undef PUSH_FMT
}

static double realtime_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int ar_mpirun(const ar_config *cfg, int np, const char *const *mca, const char *const *args,
              int limit_s, const char *log, double *wall_s, double *exit_realtime_s) {
    const char *argv[128];
    char scratch[1024];
    if (ar_mpirun_argv(cfg, np, mca, args, limit_s, argv, 128, scratch, sizeof scratch) < 0) {
        fprintf(stderr, "error: mpirun command line too long\n");
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    const double t0 = dlb_now();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "error: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (log) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) _exit(126);
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        /* The driver may itself have been started by a test under mpirun: its MPI
         * environment must not leak into the new job. */
        unsetenv("OMPI_COMM_WORLD_SIZE");
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "error: cannot start %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (exit_realtime_s) *exit_realtime_s = realtime_s();
    if (wall_s) *wall_s = dlb_now() - t0;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

int ar_read_csv(const char *path, char ***fields, int max_cols, int *rows, char **storage) {
    *fields = NULL, *rows = 0, *storage = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "error: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(text);
        fprintf(stderr, "error: reading %s failed\n", path);
        return -1;
    }
    fclose(f);
    text[len] = 0;
    int lines = 0;
    for (long i = 0; i < len; i++) lines += text[i] == '\n';
    char **out = calloc((size_t)(lines + 1) * (size_t)max_cols, sizeof *out);
    if (!out) {
        free(text);
        return -1;
    }
    int r = -1; /* the header row is skipped */
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), r++) {
        if (r < 0) continue;
        int c = 0;
        for (char *p = line; p && c < max_cols; c++) {
            out[r * max_cols + c] = p;
            p = strchr(p, ',');
            if (p) *p++ = 0;
        }
        for (; c < max_cols; c++) out[r * max_cols + c] = "";
    }
    *fields = out, *rows = r < 0 ? 0 : r, *storage = text;
    return 0;
}
