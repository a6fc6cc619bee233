/* progress.c — a one-line progress display for long work, on stderr, only when stderr is a
 * terminal (logs and CI output stay clean). At most ~10 updates per second, so calling
 * dlb_progress_update in a hot loop costs a clock read. Left out: nested bars, colour. */
#include <stdio.h>
#include <unistd.h>

#include "dlb_internal.h"

#define PRINT_INTERVAL_S 0.1

void dlb_progress_start(dlb_progress *p, const char *label, long total) {
    p->label = label ? label : "";
    p->total = total;
    p->start = dlb_now();
    p->last_print = 0;
    p->tty = isatty(STDERR_FILENO) == 1;
}

static void print_line(const dlb_progress *p, long done, double now) {
    double elapsed = now - p->start, rate = elapsed > 0 ? (double)done / elapsed : 0;
    /* \r returns to the line start, \033[K clears what a longer previous line left. */
    if (p->total > 0) {
        fprintf(stderr, "\r%s  %ld/%ld  %.1f it/s", p->label, done, p->total, rate);
        if (rate > 0 && done < p->total) fprintf(stderr, "  ETA %.0fs", (double)(p->total - done) / rate);
    } else {
        fprintf(stderr, "\r%s  %ld  %.1f it/s", p->label, done, rate);
    }
    fputs("\033[K", stderr);
    fflush(stderr);
}

void dlb_progress_update(dlb_progress *p, long done) {
    if (!p->tty) return;
    double now = dlb_now();
    if (now - p->last_print < PRINT_INTERVAL_S && !(p->total > 0 && done >= p->total)) return;
    p->last_print = now;
    print_line(p, done, now);
}

void dlb_progress_end(dlb_progress *p) {
    if (!p->tty) return;
    if (p->total > 0) print_line(p, p->total, dlb_now());
    fputc('\n', stderr);
    fflush(stderr);
}
