/*
 * pdf.c: the PDF evidence report of a trip (pdf.h), drawn with cairo's PDF surface.
 *
 * The document is laid out twice: the first pass, into a surface that discards its
 * bytes, only counts the pages, so that the second can print "Page x of y". Text uses
 * cairo's simple font interface with DejaVu Sans (Debian's fonts-dejavu-core); cells too
 * wide for their column are cut with an ellipsis, never run into the next.
 *
 * The map is an equirectangular projection scaled by the cosine of the middle latitude,
 * which over the few hundred kilometres of a trip keeps distances true to about 1 %: the
 * scale bar is measured at the middle latitude.
 *
 * Owns its cairo surface and context for one call. Pure apart from the write callback.
 */
#include "pdf.h"

#include "core.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MARGIN 48.0
#define TOP    56.0
#define BOTTOM (PDF_PAGE_H - 58.0)
#define TEXT_W (PDF_PAGE_W - 2 * MARGIN)
#define ROW_H  13.0
#define FONT   "DejaVu Sans"
#define RGB(c) (((c) >> 16) & 255) / 255.0, (((c) >> 8) & 255) / 255.0, ((c)&255) / 255.0

/* colours of the map and its legend */
#define C_SEA      0xdde9f2
#define C_LAND     0xf4f1e8
#define C_BORDER   0x9a9a9a
#define C_CORRIDOR 0x2b6cb0
#define C_CHECK    0x1e7b3a
#define C_EVENT    0xe69f00
#define C_INCIDENT 0x7b2d8e
#define C_INK      0x1a1a1a
#define C_GREY     0x666666
#define C_RULE     0xb0b0b0
#define C_HEAD     0xe6e6e6
#define C_STRIPE   0xf5f5f5

typedef struct doc {
    cairo_t *cr;
    int page, pages; /* pages: the count of the first pass, 0 during it */
    double y;        /* where the next line goes */
    const char *trip_id, *generated;
    json_object *report, *map, *verif;
} doc;

/* ---- JSON and text helpers ---- */

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Member key as text ("" when absent or null). */
static const char *str(json_object *o, const char *key)
{
    json_object *v = get(o, key);
    if (!v)
        return "";
    return json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static size_t len(json_object *arr)
{
    return json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
}

/* Element i of an array; NULL when arr is not an array or too short. */
static json_object *at(json_object *arr, size_t i)
{
    return i < len(arr) ? json_object_array_get_idx(arr, i) : NULL;
}

/* Cuts an incomplete UTF-8 character off the end of s, as a cut to a buffer's size leaves
 * it: cairo refuses the whole document for one invalid string. Returns s. */
static char *utf8_end(char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && n - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    if (i > 0) {
        unsigned char c = (unsigned char)s[i - 1];
        size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (n - (i - 1) < need)
            s[i - 1] = 0;
    }
    return s;
}

#define TEXT_MAX 512 /* bytes of one drawn string */
static const char *clean(const char *s, char *buf)
{
    snprintf(buf, TEXT_MAX, "%s", s ? s : "");
    return utf8_end(buf);
}

/* "2026-12-07T10:00:00.000Z" as "2026-12-07 10:00:00 UTC"; other text as it is. */
static const char *when(const char *iso, char *buf, size_t n)
{
    for (int i = 0; i < 19; i++)
        if (!iso[i] || (unsigned char)iso[i] >= 0x80)
            return iso;
    if (iso[10] != 'T')
        return iso;
    snprintf(buf, n, "%.10s %.8s UTC", iso, iso + 11);
    return buf;
}

static const char *latlon(json_object *o, char *buf, size_t n)
{
    if (!get(o, "lat") || !get(o, "lon"))
        return "";
    double lat = json_object_get_double(get(o, "lat")), lon = json_object_get_double(get(o, "lon"));
    snprintf(buf, n, "%.5f%c %.5f%c", fabs(lat), lat < 0 ? 'S' : 'N', fabs(lon),
             lon < 0 ? 'W' : 'E');
    return buf;
}

static void font(doc *d, double size, int bold)
{
    cairo_select_font_face(d->cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(d->cr, size);
}

static void ink(doc *d, unsigned c)
{
    cairo_set_source_rgb(d->cr, RGB(c));
}

static double text_w(doc *d, const char *s)
{
    char buf[TEXT_MAX];
    cairo_text_extents_t e;
    cairo_text_extents(d->cr, clean(s, buf), &e);
    return e.x_advance;
}

/* Shows s with its baseline at (x, y), cut with an ellipsis to max points (0: no limit). */
static void text(doc *d, double x, double y, const char *s, double max)
{
    char buf[TEXT_MAX];
    clean(s, buf);
    if (max > 0 && text_w(d, buf) > max) {
        size_t n = strlen(buf);
        if (n > TEXT_MAX - 5)
            n = TEXT_MAX - 5; /* room for the ellipsis and the NUL */
        while (n > 0) {
            do /* back to the start of a UTF-8 character */
                n--;
            while (n > 0 && ((unsigned char)buf[n] & 0xc0) == 0x80);
            memcpy(buf + n, "\xe2\x80\xa6", 4); /* ... */
            if (text_w(d, buf) <= max)
                break;
        }
    }
    cairo_move_to(d->cr, x, y);
    cairo_show_text(d->cr, buf);
}

static void text_right(doc *d, double x, double y, const char *s)
{
    text(d, x - text_w(d, s), y, s, 0);
}

static void line(doc *d, double x0, double y0, double x1, double y1, double w, unsigned c)
{
    ink(d, c);
    cairo_set_line_width(d->cr, w);
    cairo_move_to(d->cr, x0, y0);
    cairo_line_to(d->cr, x1, y1);
    cairo_stroke(d->cr);
}

/* ---- pages ---- */

static void footer(doc *d)
{
    char buf[160];
    line(d, MARGIN, PDF_PAGE_H - 44, PDF_PAGE_W - MARGIN, PDF_PAGE_H - 44, 0.5, C_RULE);
    font(d, 7.5, 0);
    ink(d, C_GREY);
    snprintf(buf, sizeof buf, "Trip %s  \xc2\xb7  generated %s", d->trip_id, d->generated);
    text(d, MARGIN, PDF_PAGE_H - 32, buf, TEXT_W - 80);
    if (d->pages)
        snprintf(buf, sizeof buf, "Page %d of %d", d->page, d->pages);
    else
        snprintf(buf, sizeof buf, "Page %d", d->page);
    text_right(d, PDF_PAGE_W - MARGIN, PDF_PAGE_H - 32, buf);
}

static void new_page(doc *d)
{
    if (d->page > 0) {
        footer(d);
        cairo_show_page(d->cr);
    }
    d->page++;
    d->y = TOP;
    if (d->page > 1) { /* a running head on the following pages */
        char buf[200];
        font(d, 7.5, 0);
        ink(d, C_GREY);
        snprintf(buf, sizeof buf, "Trip evidence report \xe2\x80\x94 declaration %s, seal %s",
                 str(d->report, "declaration"), str(d->report, "seal_id"));
        text(d, MARGIN, 36, buf, TEXT_W);
        line(d, MARGIN, 41, PDF_PAGE_W - MARGIN, 41, 0.5, C_RULE);
    }
}

/* Room for h more points on this page, else a new page. 1 when a page was begun. */
static int room(doc *d, double h)
{
    if (d->y + h <= BOTTOM)
        return 0;
    new_page(d);
    return 1;
}

static void heading(doc *d, const char *s)
{
    room(d, 60); /* a heading is not left alone at the bottom of a page */
    d->y += 14;
    font(d, 12, 1);
    ink(d, C_INK);
    text(d, MARGIN, d->y, s, 0);
    d->y += 4;
    line(d, MARGIN, d->y, PDF_PAGE_W - MARGIN, d->y, 0.8, C_INK);
    d->y += 6;
}

static void para(doc *d, const char *s, int bold)
{
    room(d, ROW_H);
    font(d, 8.5, bold);
    ink(d, C_INK);
    d->y += ROW_H - 2;
    text(d, MARGIN, d->y, s, TEXT_W);
    d->y += 2;
}

/* ---- tables ---- */

#define COLS_MAX 6
#define CELL     400 /* bytes of one cell's text */
#define WRAP_MAX 6   /* lines of a table's last column */
#define LINE_H   9.5
typedef struct table {
    int n;
    const char *head[COLS_MAX];
    double w[COLS_MAX]; /* fractions of the text width */
} table;

static void table_head(doc *d, const table *t)
{
    cairo_rectangle(d->cr, MARGIN, d->y, TEXT_W, ROW_H + 1);
    ink(d, C_HEAD);
    cairo_fill(d->cr);
    font(d, 7.5, 1);
    ink(d, C_INK);
    double x = MARGIN + 3;
    for (int i = 0; i < t->n; i++) {
        text(d, x, d->y + ROW_H - 3, t->head[i], t->w[i] * TEXT_W - 6);
        x += t->w[i] * TEXT_W;
    }
    d->y += ROW_H + 1;
}

/* Splits s (changed in place) at spaces into at most WRAP_MAX lines of max points; the
 * last takes the rest, cut with an ellipsis when it is shown. Returns the line count. */
static int wrap(doc *d, char *s, double max, const char **out)
{
    int n = 0;
    while (*s && n < WRAP_MAX) {
        out[n++] = s;
        if (n == WRAP_MAX || text_w(d, s) <= max)
            break;
        char *cut = NULL;
        for (char *q = strchr(s, ' '); q; q = strchr(q + 1, ' ')) {
            *q = 0;
            int fits = text_w(d, s) <= max;
            *q = ' ';
            if (!fits)
                break;
            cut = q;
        }
        if (!cut && !(cut = strchr(s, ' ')))
            break; /* one word too long for the column: cut */
        *cut = 0;
        s = cut + 1;
    }
    return n;
}

/* One row; the last column wraps onto more lines, the others are cut to their width. */
static void table_row(doc *d, const table *t, const char *const *cells, int stripe)
{
    char last[CELL];
    const char *lines[WRAP_MAX];
    font(d, 7.5, 0);
    snprintf(last, sizeof last, "%s", cells[t->n - 1] ? cells[t->n - 1] : "");
    int nl = wrap(d, last, t->w[t->n - 1] * TEXT_W - 6, lines);
    double h = ROW_H + (nl > 1 ? (nl - 1) * LINE_H : 0);
    if (room(d, h))
        table_head(d, t);
    if (stripe) {
        cairo_rectangle(d->cr, MARGIN, d->y, TEXT_W, h);
        ink(d, C_STRIPE);
        cairo_fill(d->cr);
    }
    font(d, 7.5, 0);
    ink(d, C_INK);
    double x = MARGIN + 3;
    for (int i = 0; i < t->n; i++) {
        double w = t->w[i] * TEXT_W - 6;
        if (i < t->n - 1)
            text(d, x, d->y + ROW_H - 3.5, cells[i] ? cells[i] : "", w);
        else
            for (int k = 0; k < nl; k++)
                text(d, x, d->y + ROW_H - 3.5 + k * LINE_H, lines[k], w);
        x += t->w[i] * TEXT_W;
    }
    d->y += h;
}

/* A table of the report's array key: one row per element, fill() giving its cells. */
static void table_of(doc *d, const table *t, json_object *arr,
                     void (*fill)(json_object *e, const char **cells, char (*bufs)[CELL]))
{
    room(d, 3 * ROW_H);
    table_head(d, t);
    for (size_t i = 0; i < len(arr); i++) {
        const char *cells[COLS_MAX] = {0};
        char bufs[COLS_MAX][CELL];
        fill(at(arr, i), cells, bufs);
        table_row(d, t, cells, (int)(i % 2));
    }
    if (len(arr) == 0) {
        font(d, 7.5, 0);
        ink(d, C_GREY);
        d->y += ROW_H - 3;
        text(d, MARGIN + 3, d->y, "None recorded.", 0);
        d->y += 3;
    }
    line(d, MARGIN, d->y, PDF_PAGE_W - MARGIN, d->y, 0.5, C_RULE);
    d->y += 6;
}

static void fill_checkpoint(json_object *e, const char **c, char (*b)[CELL])
{
    c[0] = str(e, "seq"), c[1] = str(e, "name");
    c[2] = get(e, "passed_at") ? when(str(e, "passed_at"), b[2], CELL) : "not passed";
    c[3] = !get(e, "in_order") ? "" : json_object_get_boolean(get(e, "in_order")) ? "yes" : "NO";
    c[4] = str(e, "max_leg_minutes");
}

static void fill_leg(json_object *e, const char **c, char (*b)[CELL])
{
    c[0] = str(e, "country"), c[1] = when(str(e, "entered_at"), b[1], CELL);
    c[2] = get(e, "exited_at") ? when(str(e, "exited_at"), b[2], CELL) : "\xe2\x80\x94",
    c[3] = str(e, "border_post");
    c[4] = str(e, "border_post_distance_m");
}

static void fill_stop(json_object *e, const char **c, char (*b)[CELL])
{
    c[0] = when(str(e, "from"), b[0], CELL), c[1] = when(str(e, "until"), b[1], CELL);
    c[2] = str(e, "minutes"), c[3] = str(e, "place"), c[4] = latlon(e, b[4], CELL);
}

static void fill_incident(json_object *e, const char **c, char (*b)[CELL])
{
    c[0] = when(str(e, "opened_at"), b[0], CELL), c[1] = str(e, "rule");
    c[2] = str(e, "severity"), c[3] = str(e, "status"), c[4] = latlon(e, b[4], CELL);
    c[5] = str(e, "id");
}

/* An object's members as "key: value; key: value" into b. */
static const char *members(json_object *o, char *b, size_t n)
{
    size_t at = 0;
    b[0] = 0;
    if (!json_object_is_type(o, json_type_object))
        return b;
    json_object_object_foreach(o, k, v)
    {
        const char *t = !v ? "null"
                        : json_object_is_type(v, json_type_string)
                            ? json_object_get_string(v)
                            : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        int w = snprintf(b + at, n - at, "%s%s: %s", at ? "; " : "", k, t);
        if (w < 0 || (size_t)w >= n - at)
            break;
        at += (size_t)w;
    }
    return b;
}

static void fill_event(json_object *e, const char **c, char (*b)[CELL])
{
    c[0] = when(str(e, "time"), b[0], CELL), c[1] = str(e, "kind"), c[2] = latlon(e, b[2], CELL);
    c[3] = members(get(e, "details"), b[3], CELL);
}

/* ---- the map ---- */

typedef struct proj {
    double clon, clat, kx, scale; /* points per degree of latitude */
} proj;

static void px(const proj *p, double lon, double lat, double *x, double *y)
{
    *x = PDF_MAP_X + PDF_MAP_W / 2 + (lon - p->clon) * p->kx * p->scale;
    *y = PDF_MAP_Y + PDF_MAP_H / 2 - (lat - p->clat) * p->scale;
}

/* Adds a ring or line of [lon, lat] pairs to the path. */
static void path_coords(doc *d, const proj *p, json_object *coords, int close)
{
    for (size_t i = 0; i < len(coords); i++) {
        json_object *c = at(coords, i);
        double x, y;
        px(p, json_object_get_double(at(c, 0)), json_object_get_double(at(c, 1)), &x, &y);
        if (i == 0)
            cairo_move_to(d->cr, x, y);
        else
            cairo_line_to(d->cr, x, y);
    }
    if (close && len(coords) > 0)
        cairo_close_path(d->cr);
}

/* Adds a GeoJSON LineString, MultiLineString, Polygon or MultiPolygon to the path. */
static void path_geojson(doc *d, const proj *p, json_object *g)
{
    const char *type = str(g, "type");
    json_object *c = get(g, "coordinates");
    if (strcmp(type, "LineString") == 0) {
        path_coords(d, p, c, 0);
    } else if (strcmp(type, "MultiLineString") == 0 || strcmp(type, "Polygon") == 0) {
        for (size_t i = 0; i < len(c); i++)
            path_coords(d, p, at(c, i), type[0] == 'P');
    } else if (strcmp(type, "MultiPolygon") == 0) {
        for (size_t i = 0; i < len(c); i++)
            for (size_t j = 0; j < len(at(c, i)); j++)
                path_coords(d, p, at(at(c, i), j), 1);
    } else if (strcmp(type, "GeometryCollection") == 0) {
        json_object *gs = get(g, "geometries");
        for (size_t i = 0; i < len(gs); i++)
            path_geojson(d, p, at(gs, i));
    }
}

static void marker(doc *d, const char *kind, double x, double y)
{
    cairo_t *cr = d->cr;
    cairo_new_path(cr);
    if (strcmp(kind, "incident") == 0) { /* a triangle */
        cairo_move_to(cr, x, y - 4.6);
        cairo_line_to(cr, x + 4.2, y + 2.8);
        cairo_line_to(cr, x - 4.2, y + 2.8);
        cairo_close_path(cr);
        ink(d, C_INCIDENT);
    } else if (strcmp(kind, "checkpoint") == 0) { /* a hollow square, around what is there */
        cairo_rectangle(cr, x - 5, y - 5, 10, 10);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 3);
        cairo_stroke_preserve(cr);
        ink(d, C_CHECK);
        cairo_set_line_width(cr, 1.6);
        cairo_stroke(cr);
        return;
    } else { /* an event: a circle */
        cairo_arc(cr, x, y, 3, 0, 2 * M_PI);
        ink(d, C_EVENT);
    }
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 0.8);
    cairo_stroke(cr);
}

/* A label with a white halo, so that it reads over the track and borders. */
static void label(doc *d, double x, double y, const char *s, unsigned c)
{
    cairo_t *cr = d->cr;
    if (x + text_w(d, s) > PDF_MAP_X + PDF_MAP_W - 4)
        x -= text_w(d, s) + 12; /* to the left of its point */
    char buf[TEXT_MAX];
    cairo_move_to(cr, x, y);
    cairo_text_path(cr, clean(s, buf));
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_set_line_width(cr, 2.2);
    cairo_stroke(cr);
    ink(d, c);
    text(d, x, y, s, 0);
}

/* 1, 2 or 5 times a power of ten, at most x. */
static double nice(double x)
{
    double p = pow(10, floor(log10(x))), m = x / p;
    return (m >= 5 ? 5 : m >= 2 ? 2 : 1) * p;
}

static void scale_bar(doc *d, const proj *p)
{
    double m_per_pt = 111320.0 / p->scale, metres = nice(m_per_pt * PDF_MAP_W / 5);
    double w = metres / m_per_pt, x = PDF_MAP_X + 12, y = PDF_MAP_Y + PDF_MAP_H - 16;
    char buf[32];
    cairo_rectangle(d->cr, x - 6, y - 16, w + 46, 24);
    cairo_set_source_rgba(d->cr, 1, 1, 1, 0.85);
    cairo_fill(d->cr);
    for (int i = 0; i < 4; i++) {
        cairo_rectangle(d->cr, x + i * w / 4, y, w / 4, 3.5);
        ink(d, i % 2 ? 0xffffff : C_INK);
        cairo_fill_preserve(d->cr);
        ink(d, C_INK);
        cairo_set_line_width(d->cr, 0.5);
        cairo_stroke(d->cr);
    }
    font(d, 7, 0);
    ink(d, C_INK);
    text(d, x - 2, y - 3, "0", 0);
    if (metres >= 1000)
        snprintf(buf, sizeof buf, "%g km", metres / 1000);
    else
        snprintf(buf, sizeof buf, "%g m", metres);
    text(d, x + w - text_w(d, buf) / 2, y - 3, buf, 0);
}

/* The legend: one row under the map, so that it hides nothing on it. */
static void legend(doc *d)
{
    static const char *const items[] = {"Track (recorded fixes)",
                                        "Route and its corridor",
                                        "Checkpoint",
                                        "Event",
                                        "Incident",
                                        "Start / end"};
    const int n = sizeof items / sizeof items[0];
    double x = PDF_MAP_X + 10, ly = PDF_MAP_Y + PDF_MAP_H + 13;
    for (int i = 0; i < n; i++) {
        double sx = x + 8;
        cairo_new_path(d->cr);
        switch (i) {
        case 0:
            line(d, sx - 8, ly - 2.5, sx + 8, ly - 2.5, 2, PDF_TRACK_RGB);
            break;
        case 1:
            cairo_rectangle(d->cr, sx - 8, ly - 6, 16, 7);
            cairo_set_source_rgba(d->cr, RGB(C_CORRIDOR), 0.18);
            cairo_fill(d->cr);
            line(d, sx - 8, ly - 2.5, sx + 8, ly - 2.5, 0.8, C_CORRIDOR);
            break;
        case 2:
            marker(d, "checkpoint", sx, ly - 2.5);
            break;
        case 3:
            marker(d, "event", sx, ly - 2.5);
            break;
        case 4:
            marker(d, "incident", sx, ly - 2.5);
            break;
        default:
            cairo_arc(d->cr, sx - 5, ly - 2.5, 2.8, 0, 2 * M_PI);
            ink(d, 0xffffff);
            cairo_fill_preserve(d->cr);
            ink(d, C_INK);
            cairo_set_line_width(d->cr, 1.2);
            cairo_stroke(d->cr);
            cairo_new_path(d->cr);
            cairo_rectangle(d->cr, sx + 2, ly - 5.3, 5.6, 5.6);
            cairo_fill(d->cr);
        }
        ink(d, C_INK);
        font(d, 7, 0);
        text(d, sx + 13, ly, items[i], 0);
        x = sx + 13 + text_w(d, items[i]) + 16;
    }
}

static void draw_map(doc *d)
{
    cairo_t *cr = d->cr;
    json_object *m = d->map, *bbox = get(m, "bbox");
    double w = json_object_get_double(at(bbox, 0)), s = json_object_get_double(at(bbox, 1)),
           e = json_object_get_double(at(bbox, 2)), n = json_object_get_double(at(bbox, 3));
    proj p = {.clon = (w + e) / 2, .clat = (s + n) / 2};
    p.kx = cos(p.clat * M_PI / 180);
    double dx = fmax((e - w) * p.kx, 0.02), dy = fmax(n - s, 0.02);
    p.scale = fmin(PDF_MAP_W / (dx * 1.25), PDF_MAP_H / (dy * 1.25));

    cairo_save(cr);
    cairo_rectangle(cr, PDF_MAP_X, PDF_MAP_Y, PDF_MAP_W, PDF_MAP_H);
    cairo_clip(cr);
    ink(d, C_SEA);
    cairo_paint(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);

    /* the basemap: land, borders, then the names */
    json_object *countries = get(m, "countries");
    cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
    for (size_t i = 0; i < len(countries); i++) {
        cairo_new_path(cr);
        path_geojson(d, &p, get(at(countries, i), "geometry"));
        ink(d, C_LAND);
        cairo_fill_preserve(cr);
        ink(d, C_BORDER);
        cairo_set_line_width(cr, 0.6);
        cairo_stroke(cr);
    }
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_OBLIQUE, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 9);
    for (size_t i = 0; i < len(countries); i++) {
        json_object *c = at(countries, i), *l = get(c, "label");
        double x, y;
        if (len(l) != 2)
            continue; /* the country only touches the edge of the map */
        px(&p, json_object_get_double(at(l, 0)), json_object_get_double(at(l, 1)), &x, &y);
        const char *name = str(c, "name");
        ink(d, 0x8a8a80);
        text(d, x - text_w(d, name) / 2, y, name, 0);
    }

    /* the route's corridor and centre line */
    cairo_new_path(cr);
    path_geojson(d, &p, get(m, "corridor"));
    cairo_set_source_rgba(cr, RGB(C_CORRIDOR), 0.16);
    cairo_fill_preserve(cr);
    cairo_set_source_rgba(cr, RGB(C_CORRIDOR), 0.55);
    cairo_set_line_width(cr, 0.5);
    cairo_stroke(cr);
    cairo_new_path(cr);
    path_geojson(d, &p, get(m, "route"));
    static const double dash[] = {4, 3};
    cairo_set_dash(cr, dash, 2, 0);
    ink(d, C_CORRIDOR);
    cairo_set_line_width(cr, 0.9);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);

    /* the track, with its start and end */
    json_object *track = get(m, "track");
    cairo_new_path(cr);
    path_geojson(d, &p, track);
    ink(d, PDF_TRACK_RGB);
    cairo_set_line_width(cr, 2.0);
    cairo_stroke(cr);
    json_object *tc = get(track, "coordinates");
    if (strcmp(str(track, "type"), "Point") == 0)
        tc = NULL; /* one fix: drawn as the start */
    for (int end = 0; end < 2 && len(tc) > 0; end++) {
        json_object *c = at(tc, end ? len(tc) - 1 : 0);
        double x, y;
        px(&p, json_object_get_double(at(c, 0)), json_object_get_double(at(c, 1)), &x, &y);
        cairo_new_path(cr);
        if (end)
            cairo_rectangle(cr, x - 3, y - 3, 6, 6);
        else
            cairo_arc(cr, x, y, 3.2, 0, 2 * M_PI);
        ink(d, end ? C_INK : 0xffffff);
        cairo_fill_preserve(cr);
        ink(d, C_INK);
        cairo_set_line_width(cr, 1.2);
        cairo_stroke(cr);
    }

    /* checkpoints, origin and destination, events and incidents */
    font(d, 7, 1);
    json_object *cps = get(m, "checkpoints");
    for (size_t i = 0; i < len(cps); i++) {
        json_object *c = at(cps, i);
        double x, y;
        char buf[120];
        px(&p, json_object_get_double(get(c, "lon")), json_object_get_double(get(c, "lat")), &x,
           &y);
        marker(d, "checkpoint", x, y);
        snprintf(buf, sizeof buf, "CP%s %s", str(c, "seq"), str(c, "name"));
        label(d, x + 6, y - 5, buf, C_CHECK);
    }
    json_object *places = get(m, "places");
    for (size_t i = 0; i < len(places); i++) {
        json_object *c = at(places, i);
        double x, y;
        char buf[120];
        px(&p, json_object_get_double(get(c, "lon")), json_object_get_double(get(c, "lat")), &x,
           &y);
        snprintf(buf, sizeof buf, "%s: %s", strcmp(str(c, "role"), "origin") ? "To" : "From",
                 str(c, "name"));
        label(d, x + 6, y + 11, buf, C_INK);
    }
    json_object *marks = get(m, "marks");
    for (int pass = 0; pass < 2; pass++) /* incidents over events */
        for (size_t i = 0; i < len(marks); i++) {
            json_object *c = at(marks, i);
            if ((strcmp(str(c, "kind"), "incident") == 0) != pass)
                continue;
            double x, y;
            px(&p, json_object_get_double(get(c, "lon")), json_object_get_double(get(c, "lat")), &x,
               &y);
            marker(d, str(c, "kind"), x, y);
        }

    scale_bar(d, &p);
    /* north */
    double nx = PDF_MAP_X + PDF_MAP_W - 18, ny = PDF_MAP_Y + 14;
    cairo_new_path(cr);
    cairo_move_to(cr, nx, ny);
    cairo_line_to(cr, nx + 5, ny + 14);
    cairo_line_to(cr, nx, ny + 10);
    cairo_line_to(cr, nx - 5, ny + 14);
    cairo_close_path(cr);
    ink(d, C_INK);
    cairo_fill(cr);
    font(d, 8, 1);
    text(d, nx - text_w(d, "N") / 2, ny + 24, "N", 0);
    cairo_restore(cr);

    cairo_new_path(cr);
    cairo_rectangle(cr, PDF_MAP_X, PDF_MAP_Y, PDF_MAP_W, PDF_MAP_H);
    ink(d, C_INK);
    cairo_set_line_width(cr, 0.8);
    cairo_stroke(cr);
    legend(d);
}

/* ---- the sections ---- */

static void title_block(doc *d)
{
    json_object *r = d->report, *conv = get(r, "conveyance");
    char b[6][96], route[240], fixes[32];
    font(d, 8.5, 1);
    ink(d, C_GREY);
    text(d, MARGIN, 48, "CORRIDOR MONITORING CENTRE", 0);
    font(d, 8.5, 0);
    text_right(d, PDF_PAGE_W - MARGIN, 48, "Electronic cargo tracking \xc2\xb7 customs transit");
    font(d, 20, 1);
    ink(d, C_INK);
    text(d, MARGIN, 76, "Trip evidence report", 0);
    font(d, 9, 0);
    ink(d, C_GREY);
    text(d, MARGIN, 91,
         "The recorded journey of a conveyance under customs seal, as stored by the "
         "monitoring centre.",
         TEXT_W);
    line(d, MARGIN, 99, PDF_PAGE_W - MARGIN, 99, 1.2, C_INK);

    snprintf(route, sizeof route, "%s \xe2\x86\x92 %s", str(r, "origin"), str(r, "destination"));
    snprintf(fixes, sizeof fixes, "%s", str(d->map, "fixes"));
    const char *rows[][2] = {
        {"Trip", str(r, "id")},
        {"Declaration", str(r, "declaration")},
        {"Seal", str(r, "seal_id")},
        {"Vehicle plate", str(conv, "plate")},
        {"Container", str(conv, "container")},
        {"Status", str(r, "status")},
        {"Armed", when(str(r, "armed_at"), b[0], 96)},
        {"Disarmed",
         get(r, "disarmed_at") ? when(str(r, "disarmed_at"), b[1], 96) : "not disarmed"},
        {"Deadline", when(str(r, "deadline"), b[2], 96)},
        {"Fixes recorded", fixes},
        {"Generated", d->generated},
        {"Route", str(r, "route")},
        {"From \xe2\x86\x92 to", route},
    };
    /* two columns, then the route and its ends across the page */
    const int n = sizeof rows / sizeof rows[0], paired = n - 2, half = (paired + 1) / 2;
    double y0 = 108, colw = TEXT_W / 2;
    for (int i = 0; i < n; i++) {
        int wide = i >= paired, col = !wide && i >= half;
        int row = wide ? half + i - paired : col ? i - half : i;
        if (wide)
            colw = TEXT_W + 6;
        double x = MARGIN + col * colw, y = y0 + row * 15;
        if (row % 2 == 0) {
            cairo_rectangle(d->cr, x, y, colw - (col ? 0 : 6), 15);
            ink(d, C_STRIPE);
            cairo_fill(d->cr);
        }
        font(d, 7.5, 1);
        ink(d, C_GREY);
        text(d, x + 4, y + 10.5, rows[i][0], 70);
        font(d, i == 0 ? 7.5 : 9, i == 1 || i == 2);
        ink(d, C_INK);
        text(d, x + 78, y + 10.5, rows[i][1], colw - 88);
    }
    d->y = y0 + (half + 2) * 15 + 8;
}

static void verification(doc *d)
{
    json_object *v = d->verif;
    heading(d, "6. Verification of the record");
    if (!v) {
        para(d, "Result: chain verification not available in this database.", 1);
        para(d,
             "The positions above are as stored; this database keeps no hash chain to prove "
             "that they were not changed.",
             0);
        return;
    }
    const char *status = str(v, "status");
    static const struct {
        const char *status, *title, *text;
        unsigned colour;
    } says[] = {
        {"verified", "VERIFIED",
         "Every position of the trip matches its link of the seal's hash "
         "chain, and the chain's heads are signed by the centre's key.",
         0x1e7b3a},
        {"broken", "BROKEN",
         "Positions of the trip do not match the hash chain: the record was "
         "changed after it was stored (below: where).",
         0xb00020},
        {"unchained", "UNCHAINED",
         "The trip's positions were stored without a hash chain: they "
         "cannot be proved unchanged.",
         0xb06000},
    };
    size_t k = 0;
    while (k < sizeof says / sizeof says[0] && strcmp(says[k].status, status) != 0)
        k++;
    room(d, 40);
    font(d, 14, 1);
    ink(d, k < 3 ? says[k].colour : C_INK);
    d->y += 18;
    char buf[256];
    snprintf(buf, sizeof buf, "Chain status: %s", k < 3 ? says[k].title : status);
    text(d, MARGIN, d->y, buf, TEXT_W);
    d->y += 4;
    if (k < 3)
        para(d, says[k].text, 0);
    else if (get(v, "detail"))
        para(d, str(v, "detail"), 0);

    snprintf(buf, sizeof buf, "%s to %s", str(v, "first_seq"), str(v, "last_seq"));
    char signed_at[64];
    const char *kv[][2] = {
        {"Positions checked", str(v, "positions")},
        {"Chain sequence", get(v, "first_seq") ? buf : ""},
        {"Signed heads", str(v, "signed_heads")},
        {"Last signed",
         get(v, "last_signed_at") ? when(str(v, "last_signed_at"), signed_at, 64) : "never"},
        {"Key fingerprint", get(v, "key_fingerprint") ? str(v, "key_fingerprint") : "none"},
    };
    d->y += 4;
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        room(d, ROW_H);
        d->y += ROW_H;
        font(d, 8, 1);
        ink(d, C_GREY);
        text(d, MARGIN, d->y, kv[i][0], 0);
        font(d, 8.5, 0);
        ink(d, C_INK);
        text(d, MARGIN + 110, d->y, kv[i][1], TEXT_W - 110);
    }
    d->y += 8;
    json_object *problems = get(v, "problems");
    if (len(problems) > 0) {
        const table t = {3, {"Sequence", "What was done to it", "Position time"}, {.2, .4, .4}};
        para(d, "Positions that do not match the chain:", 1);
        room(d, 3 * ROW_H);
        table_head(d, &t);
        for (size_t i = 0; i < len(problems); i++) {
            json_object *e = at(problems, i);
            char tb[96];
            const char *kind = str(e, "kind");
            const char *what = strcmp(kind, "changed") == 0    ? "changed after it was stored"
                               : strcmp(kind, "removed") == 0  ? "removed"
                               : strcmp(kind, "inserted") == 0 ? "inserted later"
                                                               : kind;
            const char *cells[3] = {str(e, "seq"), what, when(str(e, "ts"), tb, sizeof tb)};
            table_row(d, &t, cells, (int)(i % 2));
        }
        d->y += 6;
    }
}

static void signature(doc *d)
{
    room(d, 90);
    d->y += 26;
    font(d, 8, 0);
    ink(d, C_INK);
    static const char *const f[] = {"Officer (name, service number)", "Signature", "Date"};
    double w = TEXT_W / 3;
    for (int i = 0; i < 3; i++) {
        double x = MARGIN + i * w;
        line(d, x, d->y + 22, x + w - 14, d->y + 22, 0.6, C_INK);
        ink(d, C_GREY);
        text(d, x, d->y + 32, f[i], w - 14);
    }
    d->y += 40;
}

static void body(doc *d)
{
    json_object *r = d->report;
    new_page(d);
    title_block(d);
    font(d, 10, 1);
    ink(d, C_INK);
    text(d, MARGIN, PDF_MAP_Y - 8, "Map of the journey", 0);
    draw_map(d);
    font(d, 7, 0);
    ink(d, C_GREY);
    char cap[256];
    snprintf(cap, sizeof cap,
             "Track of %s fixes, drawn simplified (every fix is in the track exports). "
             "Corridor %s m. Basemap: Natural Earth. WGS 84.",
             str(d->map, "fixes"), str(d->map, "corridor_m"));
    text(d, MARGIN, PDF_MAP_Y + PDF_MAP_H + 27, cap, TEXT_W);
    d->y = PDF_MAP_Y + PDF_MAP_H + 30;

    heading(d, "1. Checkpoints passed");
    table_of(d,
             &(table){5,
                      {"Seq", "Checkpoint", "Passed at", "In order", "Max leg (min)"},
                      {.07, .38, .28, .12, .15}},
             get(r, "checkpoints"), fill_checkpoint);
    heading(d, "2. Countries and border crossings");
    table_of(d,
             &(table){5,
                      {"Country", "Entered", "Left", "Border post", "From post (m)"},
                      {.1, .25, .25, .25, .15}},
             get(r, "legs"), fill_leg);
    heading(d, "3. Stops");
    table_of(
        d, &(table){5, {"From", "Until", "Minutes", "Place", "Position"}, {.22, .22, .1, .22, .24}},
        get(r, "stops"), fill_stop);
    heading(d, "4. Incidents");
    table_of(d,
             &(table){6,
                      {"Opened", "Rule", "Severity", "Status", "Position", "Incident"},
                      {.21, .24, .1, .1, .23, .12}},
             get(r, "incidents"), fill_incident);
    heading(d, "5. Events");
    table_of(d, &(table){4, {"Time", "Event", "Position", "Evidence"}, {.21, .2, .23, .36}},
             get(r, "events"), fill_event);
    verification(d);
    signature(d);
    footer(d);
    cairo_show_page(d->cr);
}

/* ---- output ---- */

typedef struct sink {
    pdf_write_fn write;
    void *arg;
    int rc;
} sink;

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int n)
{
    sink *s = closure;
    if (!s->write)
        return CAIRO_STATUS_SUCCESS; /* the counting pass */
    s->rc = s->write(s->arg, data, n);
    return s->rc ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

/* One pass: the document into s; its page count in *pages. */
static int render(doc *d, sink *s, int *pages)
{
    cairo_surface_t *surf =
        cairo_pdf_surface_create_for_stream(sink_write, s, PDF_PAGE_W, PDF_PAGE_H);
    char title[200];
    snprintf(title, sizeof title, "Trip evidence report: declaration %s",
             str(d->report, "declaration"));
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, utf8_end(title));
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_AUTHOR, "Corridor monitoring centre");
    char subject[TEXT_MAX];
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_SUBJECT, clean(d->trip_id, subject));
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, "corridord");
    d->cr = cairo_create(surf);
    d->page = 0;
    body(d);
    cairo_status_t st = cairo_status(d->cr);
    cairo_destroy(d->cr);
    d->cr = NULL;
    cairo_surface_finish(surf);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    *pages = d->page;
    if (s->rc)
        return s->rc;
    return st == CAIRO_STATUS_SUCCESS ? 0 : CORE_EINVAL;
}

int pdf_evidence_report(json_object *report, json_object *map, json_object *verification,
                        pdf_write_fn write, void *arg)
{
    char gen[64];
    doc d = {.report = report, .map = map, .verif = verification};
    d.trip_id = str(report, "id");
    d.generated = when(str(map, "generated_at"), gen, sizeof gen);
    sink count = {0}, out = {.write = write, .arg = arg};
    int pages, rc = render(&d, &count, &pages);
    if (rc)
        return rc;
    d.pages = pages;
    return render(&d, &out, &pages);
}
