/* io.c — the harness's file plumbing: mkdir -p, write-to-tmp-then-rename, and the few
 * JSON helpers its writers and the peak cache need.
 * Every results file goes through dlbi_tmp_open / dlbi_tmp_commit, so a reader never sees
 * a half-written file: it sees the old one or the new one.
 * The JSON reader is deliberately tiny: it finds "key": value in files this harness wrote
 * (the peak cache) and nothing more; anything it cannot read counts as "no cache". */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlb_internal.h"

int dlbi_path(char *buf, size_t len, const char *dir, const char *file) {
    int n = snprintf(buf, len, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= len) return dlbi_fail("path too long: %s/%s", dir, file);
    return 0;
}

int dlbi_mkdir_p(const char *dir) {
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0) return dlbi_fail("cannot create a directory with an empty name");
    if (len >= sizeof path) return dlbi_fail("directory name too long: %.64s...", dir);
    memcpy(path, dir, len + 1);
    /* Create each prefix in turn; "already exists" is fine as long as it is a directory. */
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return dlbi_fail("cannot create directory '%s': %s", path, strerror(errno));
        struct stat st;
        if (stat(path, &st) != 0)
            return dlbi_fail("cannot create directory '%s': %s", path, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            return dlbi_fail("cannot create directory '%s': %s ('%s' is a file)", dir,
                             strerror(ENOTDIR), path);
        *p = saved;
        if (saved == '\0') break;
    }
    return 0;
}

FILE *dlbi_tmp_open(const char *path, char *tmp_path, size_t tmp_len) {
    int n = snprintf(tmp_path, tmp_len, "%s.tmp", path);
    if (n < 0 || (size_t)n >= tmp_len) {
        dlbi_fail("path too long: %s", path);
        return NULL;
    }
    FILE *f = fopen(tmp_path, "w");
    if (!f) dlbi_fail("cannot write '%s': %s", tmp_path, strerror(errno));
    return f;
}

int dlbi_tmp_commit(FILE *f, const char *tmp_path, const char *path) {
    bool write_failed = ferror(f) != 0;
    int saved_errno = errno;
    if (fclose(f) != 0 && !write_failed) {
        write_failed = true;
        saved_errno = errno;
    }
    if (write_failed) {
        unlink(tmp_path);
        return dlbi_fail("error writing '%s': %s", tmp_path, strerror(saved_errno));
    }
    if (rename(tmp_path, path) != 0) {
        saved_errno = errno;
        unlink(tmp_path);
        return dlbi_fail("cannot rename '%s' to '%s': %s", tmp_path, path, strerror(saved_errno));
    }
    return 0;
}

void dlbi_json_str(FILE *f, const char *s) {
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f); /* UTF-8 bytes pass through unchanged */
        }
    }
    fputc('"', f);
}

void dlbi_json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
bool dlbi_is_json_number(const char *s) {
    const char *p = s;
    if (*p == '-') p++;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (*p >= '0' && *p <= '9') p++;
    else return false;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    return *p == '\0';
}

/* Points just past the ':' that follows "key", or NULL. */
static const char *json_value_of(const char *json, const char *key) {
    size_t klen = strlen(key);
    for (const char *p = json; (p = strchr(p, '"')) != NULL; p++) {
        if (strncmp(p + 1, key, klen) != 0 || p[klen + 1] != '"') continue;
        const char *q = p + klen + 2;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
        if (*q != ':') continue;
        q++;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
        return q;
    }
    return NULL;
}

int dlbi_json_find_num(const char *json, const char *key, double *out) {
    const char *v = json_value_of(json, key);
    if (!v) return -1;
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    return (end == v || errno != 0) ? -1 : 0;
}

int dlbi_json_find_str(const char *json, const char *key, char *out, size_t len) {
    const char *v = json_value_of(json, key);
    if (!v || *v != '"' || len == 0) return -1;
    size_t n = 0;
    for (v++; *v && *v != '"'; v++) {
        char c = *v;
        if (c == '\\') {
            v++;
            /* Only the escapes dlbi_json_str writes for printable text; \uXXXX is refused. */
            switch (*v) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            default: return -1;
            }
        }
        if (n + 1 >= len) return -1;
        out[n++] = c;
    }
    if (*v != '"') return -1;
    out[n] = '\0';
    return 0;
}

char *dlbi_strdup(const char *s) {
    s = s ? s : "";
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
