/* tmpdir.h — one fresh temporary directory per test group, removed with all it holds.
 * Header-only, for tests that write files:
 *
 *     static int setup(void **state) { (void)state; return tmpdir_make("ckpt"); }
 *     static int teardown(void **state) { (void)state; return tmpdir_remove(); }
 *     ... snprintf(path, sizeof path, "%s/file", tmpdir); ...
 */
#ifndef DLAB_TESTS_TMPDIR_H
#define DLAB_TESTS_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char tmpdir[64];

static int tmpdir_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Create /tmp/dlab-test-<tag>-XXXXXX into tmpdir: 0, or -1 if it could not be made. */
static int tmpdir_make(const char *tag) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dlab-test-%s-XXXXXX", tag);
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Remove tmpdir and everything under it (made writable first: a test may chmod it). */
static int tmpdir_remove(void) {
    chmod(tmpdir, 0700);
    return nftw(tmpdir, tmpdir_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
