/* table.c — result tables: cells in, an aligned terminal table and a CSV file out.
 * A table is a list of column names and a flat list of cells filled row by row; a short
 * last row is padded with empty cells. Terminal: strings left-aligned, numeric columns
 * right-aligned, a rule under the header. CSV (RFC 4180): header row first, fields quoted
 * only when they hold a comma, quote, newline or edge space; numbers at full precision;
 * NaN and infinities as nan / inf / -inf. Left out: sorting, per-column formats. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dlb_internal.h"

typedef enum { CELL_STR, CELL_INT, CELL_NUM } cell_kind;

typedef struct cell {
    cell_kind kind;
    char *text;      /* CELL_STR */
    long long i;     /* CELL_INT */
    double v;        /* CELL_NUM */
    char fmt[32];    /* CELL_NUM terminal format, "" for %.4g */
} cell;

struct dlb_table {
    char *name;
    int ncols;
    char **cols;
    cell *cells;
    int ncells, cap;
};

dlb_table *dlb_table_new(const char *name, ...) {
    dlb_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    va_list ap;
    va_start(ap, name);
    for (const char *c; (c = va_arg(ap, const char *)) != NULL;) {
        char **cols = realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *cols);
        if (!cols) break;
        t->cols = cols;
        if ((t->cols[t->ncols] = dlbi_strdup(c)) == NULL) break;
        t->ncols++;
    }
    va_end(ap);
    t->name = dlbi_strdup(name);
    if (t->ncols == 0 || !t->name) {
        dlb_table_free(t);
        return NULL;
    }
    return t;
}

void dlb_table_free(dlb_table *t) {
    if (!t) return;
    for (int i = 0; i < t->ncols; i++) free(t->cols[i]);
    for (int i = 0; i < t->ncells; i++) free(t->cells[i].text);
    free(t->cols);
    free(t->cells);
    free(t->name);
    free(t);
}

/* Room for one more cell; NULL (cell dropped) only when out of memory. */
static cell *add_cell(dlb_table *t) {
    if (!t) return NULL;
    if (t->ncells == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        cell *cells = realloc(t->cells, (size_t)cap * sizeof *cells);
        if (!cells) return NULL;
        t->cells = cells;
        t->cap = cap;
    }
    cell *c = &t->cells[t->ncells++];
    memset(c, 0, sizeof *c);
    return c;
}

void dlb_table_str(dlb_table *t, const char *s) {
    cell *c = add_cell(t);
    if (!c) return;
    c->kind = CELL_STR;
    c->text = dlbi_strdup(s);
}

void dlb_table_int(dlb_table *t, long long v) {
    cell *c = add_cell(t);
    if (!c) return;
    c->kind = CELL_INT;
    c->i = v;
}

void dlb_table_numf(dlb_table *t, double v, const char *fmt) {
    cell *c = add_cell(t);
    if (!c) return;
    c->kind = CELL_NUM;
    c->v = v;
    if (fmt) snprintf(c->fmt, sizeof c->fmt, "%s", fmt);
}

void dlb_table_num(dlb_table *t, double v) { dlb_table_numf(t, v, NULL); }

int dlb_table_rows(const dlb_table *t) { return t ? (t->ncells + t->ncols - 1) / t->ncols : 0; }

/* NaN and infinities spelled the same everywhere (printf may say "-nan"). */
static bool non_finite_text(double v, char *buf, size_t len) {
    if (isfinite(v)) return false;
    snprintf(buf, len, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    return true;
}

/* The shortest of %.15g / %.17g that reads back as the same double: exact integers stay
 * integers (4294967296, not 4.2949673e+09) and 0.1 stays 0.1. */
void dlbi_num_text(double v, char *buf, size_t len) {
    if (non_finite_text(v, buf, len)) return;
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, len, "%.17g", v);
}

/* A cell as text; for_csv picks full precision over the terminal format. */
static const char *cell_text(const cell *c, char *buf, size_t len, bool for_csv) {
    switch (c->kind) {
    case CELL_STR: return c->text ? c->text : "";
    case CELL_INT: snprintf(buf, len, "%lld", c->i); return buf;
    case CELL_NUM:
        if (non_finite_text(c->v, buf, len)) return buf;
        if (for_csv) dlbi_num_text(c->v, buf, len);
        else if (c->fmt[0]) snprintf(buf, len, c->fmt, c->v);
        else snprintf(buf, len, "%.4g", c->v);
        return buf;
    }
    return "";
}

/* Display width: UTF-8 continuation bytes take no column ("µs" is 2 wide). */
static int text_width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

void dlb_table_print(const dlb_table *t) {
    if (!t) return;
    int rows = dlb_table_rows(t);
    int *width = calloc((size_t)t->ncols, sizeof *width);
    bool *numeric = calloc((size_t)t->ncols, sizeof *numeric);
    if (!width || !numeric) goto done;
    char buf[128];
    for (int c = 0; c < t->ncols; c++) {
        width[c] = text_width(t->cols[c]);
        numeric[c] = rows > 0;
    }
    for (int i = 0; i < t->ncells; i++) {
        int c = i % t->ncols, w = text_width(cell_text(&t->cells[i], buf, sizeof buf, false));
        if (w > width[c]) width[c] = w;
        if (t->cells[i].kind == CELL_STR) numeric[c] = false;
    }
    /* Each line is built in memory so trailing blanks can be cut; padding counts display
     * width, not bytes, so it is done by hand rather than with %*s. */
    char *line = NULL;
    size_t line_size = 0;
    for (int r = -2; r < rows; r++) {
        FILE *out = open_memstream(&line, &line_size);
        if (!out) break;
        for (int c = 0; c < t->ncols; c++) {
            int i = r * t->ncols + c;
            const char *s = r == -2   ? t->cols[c]
                            : r == -1 ? NULL
                            : i < t->ncells ? cell_text(&t->cells[i], buf, sizeof buf, false) : "";
            if (c > 0) fputs("  ", out);
            if (!s) {
                for (int k = 0; k < width[c]; k++) fputc('-', out);
                continue;
            }
            int pad = width[c] - text_width(s);
            if (numeric[c]) fprintf(out, "%*s%s", pad, "", s);
            else fprintf(out, "%s%*s", s, pad, "");
        }
        fclose(out);
        size_t len = strlen(line);
        while (len > 0 && line[len - 1] == ' ') line[--len] = '\0';
        puts(line);
        free(line);
        line = NULL;
    }
done:
    free(width);
    free(numeric);
}

void dlbi_csv_field(FILE *f, const char *s) {
    size_t n = strlen(s);
    bool quote = strpbrk(s, ",\"\n\r") != NULL || (n > 0 && (s[0] == ' ' || s[n - 1] == ' '));
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f); /* a quote is written twice inside quotes */
        fputc(*s, f);
    }
    fputc('"', f);
}

int dlb_table_write_csv(const dlb_table *t, const char *path) {
    if (!t) return dlbi_fail("dlb_table_write_csv: table is NULL (was dlb_table_new given no columns?)");
    char tmp[4200], buf[128];
    FILE *f = dlbi_tmp_open(path, tmp, sizeof tmp);
    if (!f) return -1;
    for (int c = 0; c < t->ncols; c++) {
        if (c) fputc(',', f);
        dlbi_csv_field(f, t->cols[c]);
    }
    fputc('\n', f);
    int rows = dlb_table_rows(t);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            int i = r * t->ncols + c;
            if (c) fputc(',', f);
            if (i < t->ncells) dlbi_csv_field(f, cell_text(&t->cells[i], buf, sizeof buf, true));
        }
        fputc('\n', f);
    }
    return dlbi_tmp_commit(f, tmp, path);
}

/* For run.c: the table's name (its CSV is <name>.csv). */
const char *dlbi_table_name(const dlb_table *t) { return t ? t->name : ""; }
