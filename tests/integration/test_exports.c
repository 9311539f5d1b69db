/*
 * test_exports.c: GET /api/trips/{id}/track (web/rest_export.c, schema/rules/exports.sql,
 * web/pdf.c) against the real corridord and PostGIS. A trip is armed and driven over the
 * OsmAnd socket from Mombasa through the Emali checkpoint, off its corridor and back, to
 * Malaba; then each format is checked for what it holds: the GeoJSON parsed, the GPX and
 * KML well-formed (xmllint) with one point per fix, the CSV's rows, the headers, the roles
 * that may not have it, unknown trips and formats. The PDF is read back with poppler
 * (pdfinfo, pdftotext) and page 1 is looked at as a picture (pdftoppm): the track's
 * colour must be on the map. The verification section says what the evidence family's
 * corridor.trip_verification finds: verified, then broken once a DBA changed a position.
 * A three-day trip at one fix every 10 s (26,000 fixes) is exported in every format against a
 * clock.
 *
 * CORRIDOR_EVIDENCE_PNG=FILE keeps the picture of page 1 (docs/evidence-report.png), and the
 * PDF as FILE.pdf.
 */
#include "../../web/pdf.h"
#include "harness.h"

#include <arpa/inet.h>
#include <cairo.h>
#include <check.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static harness_server srv;
static PGconn *db;
static const char *conninfo;
static char dbname[64], tmpdir[128];
static long port_id, cp_id, dest_id, route_id;
static char *resp;      /* the whole answer of the last request */
static size_t resp_len; /* its length */
static const char *body;
#define RESP_MAX (32u << 20)

static long q(const char *sql)
{
    return harness_query_long(db, sql);
}

static int ping(const char *id, long t, double lat, double lon, int speed)
{
    char path[256], r[512];
    snprintf(path, sizeof path, "/?id=%s&lat=%.5f&lon=%.5f&timestamp=%ld&speed=%d&lock=locked", id,
             lat, lon, t, speed);
    return harness_http(srv.osmand_port, "GET", path, NULL, NULL, r, sizeof r);
}

/* GET path with token; the answer in resp (headers) and body. Returns the status. */
static int get_as(const char *token, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)srv.http_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Authorization: Bearer %s\r\n\r\n",
                     path, token);
    ck_assert_int_eq(write(fd, head, (size_t)n), n);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, resp + got, RESP_MAX - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = 0;
    close(fd);
    int status = -1;
    ck_assert_msg(sscanf(resp, "HTTP/1.%*d %d", &status) == 1, "no answer to %s", path);
    char *b = strstr(resp, "\r\n\r\n");
    ck_assert(b != NULL);
    *b = 0; /* resp: the headers alone */
    body = b + 4;
    resp_len = got - (size_t)(body - resp);
    return status;
}

static int get(const char *path)
{
    return get_as(srv.token, path);
}

/* The value of header name in the last answer (static), or NULL. */
static const char *header(const char *name)
{
    static char v[256];
    char key[64];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *p = strcasestr(resp, key);
    if (!p)
        return NULL;
    p += strlen(key);
    p += strspn(p, " ");
    snprintf(v, sizeof v, "%.*s", (int)strcspn(p, "\r\n"), p);
    return v;
}

static void save(const char *file)
{
    FILE *f = fopen(file, "wb");
    ck_assert(f != NULL);
    ck_assert_int_eq(fwrite(body, 1, resp_len, f), resp_len);
    fclose(f);
}

/* Runs a shell command; its standard output (static, NUL-terminated) in *out. Returns
 * its exit status. */
static int sh(const char *cmd, char **out)
{
    static char buf[1 << 20];
    FILE *p = popen(cmd, "r");
    ck_assert(p != NULL);
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    int rc = pclose(p);
    if (out)
        *out = buf;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static long count_lines(const char *s)
{
    long n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void setup(void)
{
    snprintf(dbname, sizeof dbname, "corridor_test_exports_%d", (int)getpid());
    conninfo = harness_db_create(dbname);
    harness_server_start(&srv, conninfo, "--sweep-interval", "2", NULL);
    db = harness_connect(conninfo);
    resp = malloc(RESP_MAX);
    ck_assert(resp != NULL);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/corridor-exports-%d", (int)getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", tmpdir);
    ck_assert_int_eq(sh(cmd, NULL), 0);
    harness_exec(
        db, "INSERT INTO corridor.geofences(name, kind, geom) VALUES "
            "('Port of Mombasa', 'port', ST_Multi(ST_MakeEnvelope(39.63,-4.08,39.68,-4.04,4326))),"
            "('Emali', 'checkpoint', ST_Multi(ST_MakeEnvelope(37.45,-2.10,37.48,-2.07,4326))),"
            "('Malaba', 'border_post', ST_Multi(ST_MakeEnvelope(34.26,0.62,34.29,0.65,4326)))");
    port_id = q("SELECT id FROM corridor.geofences WHERE name = 'Port of Mombasa'");
    cp_id = q("SELECT id FROM corridor.geofences WHERE name = 'Emali'");
    dest_id = q("SELECT id FROM corridor.geofences WHERE name = 'Malaba'");
    harness_exec(db, "INSERT INTO corridor.seals(id, protocol, device_id) VALUES "
                     "('SEAL-EX1','osmand','SEAL-EX1'), ('SEAL-EX2','osmand','SEAL-EX2')");
    harness_exec(db, "INSERT INTO corridor.rrus (id, name, base) VALUES "
                     "('U1', 'Unit one', 'SRID=4326;POINT(36.8 -1.3)')");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT (corridor.route_create(json_build_object('name', 'Mombasa - Malaba',"
             " 'corridor_m', 3000, 'max_transit_minutes', 600, 'max_speed_kmh', 1000000,"
             " 'geometry', json_build_object('type', 'LineString', 'coordinates',"
             "   '[[39.655,-4.06],[37.4667,-2.0833],[36.893,-1.329],[34.275,0.636]]'::json),"
             " 'checkpoints', json_build_array(json_build_object('geofence_id', %ld,"
             "   'max_leg_minutes', 300))))->>'id')::bigint",
             cp_id);
    route_id = q(sql);
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    sh(cmd, NULL);
    free(resp);
    PQfinish(db);
    int stopped = harness_server_stop(&srv, 0);
    PGconn *c = harness_connect("dbname=postgres");
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    harness_exec(c, sql);
    PQfinish(c);
    ck_assert_int_eq(stopped, 0);
}

/* Arms seal on the route over REST; the trip id (static). */
static const char *arm(const char *seal, const char *decl, long now)
{
    static char id[40];
    ck_assert_int_eq(ping(seal, now - 20, -4.06, 39.655, 0), 200);
    char b[1024], r[4096];
    snprintf(b, sizeof b,
             "{\"seal_id\": \"%s\", \"route_id\": %ld, \"origin_id\": %ld,"
             " \"destination_id\": %ld, \"conveyance\": {\"plate\": \"KCA 123B\","
             " \"container\": \"CSQU3054383\"}, \"declaration\": \"%s\"}",
             seal, route_id, port_id, dest_id, decl);
    ck_assert_int_eq(
        harness_http(srv.http_port, "POST", "/api/trips", "application/json", b, r, sizeof r), 201);
    json_object *o = json_tokener_parse(r), *v;
    ck_assert(o && json_object_object_get_ex(o, "id", &v));
    snprintf(id, sizeof id, "%s", json_object_get_string(v));
    json_object_put(o);
    return id;
}

/* The route's vertices: the truck drives them in N_STEP steps per leg, one minute apart. */
static const double road[][2] = {
    {-4.06, 39.655}, {-2.0833, 37.4667}, {-1.329, 36.893}, {0.636, 34.275}};
#define N_STEP 10
#define N_FIX  (3 * N_STEP + 4) /* with three fixes off the corridor */

/* Drives the trip: N_FIX fixes, three of them (three minutes) 20 km off the corridor. */
static void drive(const char *seal, long now)
{
    int k = 0;
    for (int leg = 0; leg < 3; leg++)
        for (int i = 0; i <= N_STEP; i++) {
            if (i == N_STEP && leg < 2)
                continue; /* the next leg starts there */
            double f = (double)i / N_STEP,
                   lat = road[leg][0] + f * (road[leg + 1][0] - road[leg][0]),
                   lon = road[leg][1] + f * (road[leg + 1][1] - road[leg][1]);
            for (int off = 0; leg == 1 && i == 5 && off < 3; off++) { /* a detour, and back */
                ck_assert_int_eq(
                    ping(seal, now + 10 + 60 * k, lat + 0.18, lon + 0.1 + 0.03 * off, 70), 200);
                k++;
            }
            ck_assert_int_eq(ping(seal, now + 10 + 60 * k, lat, lon, 60 + k % 20), 200);
            k++;
        }
    ck_assert_int_eq(k, N_FIX);
}

START_TEST(track_formats)
{
    long now = (long)time(NULL);
    const char *id = arm("SEAL-EX1", "2026KEMSA0042", now);
    drive("SEAL-EX1", now);
    char path[256], cmd[1024], file[256], *out;
    /* the deviation raised its incident before the exports are taken */
    for (int i = 0; i < 50 && q("SELECT count(*) FROM corridor.incidents"
                                " WHERE rule = 'route_deviation'") == 0;
         i++)
        usleep(100000);
    ck_assert_int_eq(q("SELECT count(*) FROM corridor.incidents WHERE rule = 'route_deviation'"),
                     1);

    /* GeoJSON: the track with a time per fix, the events and incidents as points */
    snprintf(path, sizeof path, "/api/trips/%s/track?format=geojson", id);
    ck_assert_int_eq(get(path), 200);
    ck_assert_str_eq(header("content-type"), "application/geo+json");
    ck_assert_str_eq(header("content-disposition"),
                     "attachment; filename=\"trip-2026KEMSA0042.geojson\"");
    json_object *o = json_tokener_parse(body), *feats, *v;
    ck_assert_msg(o != NULL, "not JSON: %.200s", body);
    ck_assert(json_object_object_get_ex(o, "type", &v));
    ck_assert_str_eq(json_object_get_string(v), "FeatureCollection");
    ck_assert(json_object_object_get_ex(o, "features", &feats));
    json_object *track = json_object_array_get_idx(feats, 0), *geom, *props, *coords, *times;
    ck_assert(json_object_object_get_ex(track, "geometry", &geom));
    ck_assert(json_object_object_get_ex(geom, "coordinates", &coords));
    ck_assert_int_eq(json_object_array_length(coords), N_FIX);
    ck_assert(json_object_object_get_ex(track, "properties", &props));
    ck_assert(json_object_object_get_ex(props, "coordTimes", &times));
    ck_assert_int_eq(json_object_array_length(times), N_FIX);
    ck_assert(json_object_object_get_ex(props, "declaration", &v));
    ck_assert_str_eq(json_object_get_string(v), "2026KEMSA0042");
    /* the first fix is the port's: [lon, lat] */
    json_object *c0 = json_object_array_get_idx(coords, 0);
    ck_assert(json_object_get_double(json_object_array_get_idx(c0, 0)) == 39.655);
    ck_assert(json_object_get_double(json_object_array_get_idx(c0, 1)) == -4.06);
    int incidents = 0, armed = 0;
    for (size_t i = 1; i < json_object_array_length(feats); i++) {
        json_object *p, *k, *w;
        json_object_object_get_ex(json_object_array_get_idx(feats, i), "properties", &p);
        ck_assert(json_object_object_get_ex(p, "kind", &k));
        if (strcmp(json_object_get_string(k), "incident") == 0 &&
            json_object_object_get_ex(p, "incident", &w))
            incidents += strcmp(json_object_get_string(w), "route_deviation") == 0;
        if (strcmp(json_object_get_string(k), "event") == 0 &&
            json_object_object_get_ex(p, "event", &w))
            armed += strcmp(json_object_get_string(w), "trip_armed") == 0;
    }
    ck_assert_int_eq(incidents, 1);
    ck_assert_int_eq(armed, 1);
    json_object_put(o);

    /* GPX 1.1: well-formed, a trkpt per fix with its time and speed */
    snprintf(path, sizeof path, "/api/trips/%s/track?format=gpx", id);
    ck_assert_int_eq(get(path), 200);
    ck_assert_str_eq(header("content-type"), "application/gpx+xml");
    ck_assert_str_eq(header("content-disposition"),
                     "attachment; filename=\"trip-2026KEMSA0042.gpx\"");
    snprintf(file, sizeof file, "%s/t.gpx", tmpdir);
    save(file);
    snprintf(cmd, sizeof cmd, "xmllint --noout %s 2>&1", file);
    ck_assert_msg(sh(cmd, &out) == 0, "GPX not well-formed: %s", out);
    snprintf(cmd, sizeof cmd,
             "xmllint --xpath 'count(/*[local-name()=\"gpx\"]/*[local-name()=\"trk\"]"
             "/*[local-name()=\"trkseg\"]/*[local-name()=\"trkpt\"]/*[local-name()=\"time\"])' %s",
             file);
    ck_assert_int_eq(sh(cmd, &out), 0);
    ck_assert_int_eq(atol(out), N_FIX);
    snprintf(cmd, sizeof cmd, "xmllint --xpath 'count(//*[local-name()=\"speed_kmh\"])' %s", file);
    ck_assert_int_eq(sh(cmd, &out), 0);
    ck_assert_int_eq(atol(out), N_FIX);
    ck_assert(strstr(body, "version=\"1.1\"") && strstr(body, "http://www.topografix.com/GPX/1/1"));

    /* KML 2.2: well-formed, a coordinate pair per fix, the incident a Placemark */
    snprintf(path, sizeof path, "/api/trips/%s/track?format=kml", id);
    ck_assert_int_eq(get(path), 200);
    ck_assert_str_eq(header("content-type"), "application/vnd.google-earth.kml+xml");
    snprintf(file, sizeof file, "%s/t.kml", tmpdir);
    save(file);
    snprintf(cmd, sizeof cmd, "xmllint --noout %s 2>&1", file);
    ck_assert_msg(sh(cmd, &out) == 0, "KML not well-formed: %s", out);
    snprintf(cmd, sizeof cmd,
             "xmllint --xpath 'string(//*[local-name()=\"LineString\"]"
             "/*[local-name()=\"coordinates\"])' %s | grep -c ,",
             file);
    ck_assert_int_eq(sh(cmd, &out), 0);
    ck_assert_int_eq(atol(out), N_FIX);
    snprintf(cmd, sizeof cmd,
             "xmllint --xpath 'count(//*[local-name()=\"Track\"]/*[local-name()=\"when\"])' %s",
             file);
    ck_assert_int_eq(sh(cmd, &out), 0);
    ck_assert_int_eq(atol(out), N_FIX);
    ck_assert(strstr(body, "http://www.opengis.net/kml/2.2") != NULL);
    ck_assert(strstr(body, "<name>route_deviation</name>") != NULL);

    /* CSV: the header and a row per fix, ISO times */
    snprintf(path, sizeof path, "/api/trips/%s/track?format=csv", id);
    ck_assert_int_eq(get(path), 200);
    ck_assert_str_eq(header("content-type"), "text/csv; charset=utf-8");
    ck_assert_str_eq(header("content-disposition"),
                     "attachment; filename=\"trip-2026KEMSA0042.csv\"");
    ck_assert_int_eq(count_lines(body), N_FIX + 1);
    ck_assert(strncmp(body, "time,lat,lon,speed_kmh,", 23) == 0);
    const char *row1 = strchr(body, '\n') + 1;
    ck_assert_msg(row1[4] == '-' && row1[10] == 'T' && row1[23] == 'Z', "not ISO: %.40s", row1);

    /* who may not, and what does not exist */
    char tok[128];
    snprintf(tok, sizeof tok, "%s", harness_token_create(conninfo, "officer", NULL));
    ck_assert_int_eq(get_as(tok, path), 200);
    snprintf(tok, sizeof tok, "%s", harness_token_create(conninfo, "partner", "UG"));
    ck_assert_int_eq(get_as(tok, path), 403);
    snprintf(tok, sizeof tok, "%s", harness_token_create(conninfo, "rru", "U1"));
    ck_assert_int_eq(get_as(tok, path), 403);
    snprintf(tok, sizeof tok, "%s", harness_token_create(conninfo, "arming", NULL));
    ck_assert_int_eq(get_as(tok, path), 403);
    ck_assert_int_eq(get_as("cor_nope", path), 401);
    ck_assert_int_eq(get("/api/trips/00000000-0000-4000-8000-000000000000/track?format=gpx"), 404);
    ck_assert_msg(strstr(body, "\"trip_not_found\"") != NULL, "%.500s", body);
    ck_assert_int_eq(get("/api/trips/nope/track?format=gpx"), 404);
    snprintf(path, sizeof path, "/api/trips/%s/track?format=shp", id);
    ck_assert_int_eq(get(path), 400);
    ck_assert(header("content-disposition") == NULL);
    ck_assert_msg(strstr(body, "\"bad_format\"") &&
                      strstr(body, "one of geojson, gpx, kml, csv, pdf (not \\\"shp\\\")"),
                  "%.500s", body);
    snprintf(path, sizeof path, "/api/trips/%s/track", id);
    ck_assert_int_eq(get(path), 400);
    ck_assert_msg(strstr(body, "(none given)") != NULL, "%.500s", body);
}
END_TEST

/* Pixels of page 1's PNG (rendered at dpi) of colour rgb (within tol per channel), inside
 * the map or outside it. */
static void count_colour(const char *png, double dpi, unsigned rgb, int tol, long *in, long *out)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(png);
    ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(s);
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s),
        stride = cairo_image_surface_get_stride(s);
    const unsigned char *data = cairo_image_surface_get_data(s);
    double k = dpi / 72;
    int x0 = (int)(PDF_MAP_X * k), y0 = (int)(PDF_MAP_Y * k),
        x1 = (int)((PDF_MAP_X + PDF_MAP_W) * k), y1 = (int)((PDF_MAP_Y + PDF_MAP_H) * k);
    *in = *out = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t p = *(const uint32_t *)(data + y * stride + 4 * x); /* xRGB */
            int r = (p >> 16) & 255, g = (p >> 8) & 255, b = p & 255;
            if (abs(r - (int)(rgb >> 16)) > tol || abs(g - (int)((rgb >> 8) & 255)) > tol ||
                abs(b - (int)(rgb & 255)) > tol)
                continue;
            if (x >= x0 && x < x1 && y >= y0 && y < y1)
                (*in)++;
            else
                (*out)++;
        }
    cairo_surface_destroy(s);
}

static void pdf_text(const char *id, char *pdf, size_t n, char **text)
{
    char path[256], cmd[1024], *out;
    snprintf(path, sizeof path, "/api/trips/%s/track?format=pdf", id);
    ck_assert_int_eq(get(path), 200);
    ck_assert_str_eq(header("content-type"), "application/pdf");
    ck_assert_str_eq(header("content-disposition"),
                     "attachment; filename=\"trip-2026KEMSA0042.pdf\"");
    ck_assert(resp_len > 1000 && memcmp(body, "%PDF-", 5) == 0);
    snprintf(pdf, n, "%s/t.pdf", tmpdir);
    save(pdf);
    snprintf(cmd, sizeof cmd, "pdftotext -layout %s -", pdf);
    ck_assert_int_eq(sh(cmd, &out), 0);
    *text = strdup(out);
}

START_TEST(pdf_report)
{
    long now = (long)time(NULL);
    const char *id = arm("SEAL-EX1", "2026KEMSA0042", now);
    char tid[40];
    snprintf(tid, sizeof tid, "%s", id);
    drive("SEAL-EX1", now);
    for (int i = 0; i < 50 && q("SELECT count(*) FROM corridor.incidents") == 0; i++)
        usleep(100000);
    char pdf[256], cmd[1024], *out, *text;

    pdf_text(tid, pdf, sizeof pdf, &text);
    /* page 1 as a picture: the track's colour on the map, and hardly anywhere else */
    const char *keep = getenv("CORRIDOR_EVIDENCE_PNG");
    snprintf(cmd, sizeof cmd, "pdftoppm -png -r 100 -f 1 -l 1 -singlefile %s %s/page1", pdf,
             tmpdir);
    ck_assert_int_eq(sh(cmd, NULL), 0);
    char png[256];
    snprintf(png, sizeof png, "%s/page1.png", tmpdir);
    long in, outside;
    count_colour(png, 100, PDF_TRACK_RGB, 40, &in, &outside);
    ck_assert_msg(in > 400, "only %ld track pixels on the map", in);
    ck_assert_msg(outside < 150, "%ld track pixels outside the map (the legend has a few)",
                  outside);
    long land, land_out;
    count_colour(png, 100, 0xf4f1e8, 3, &land, &land_out);
    ck_assert_msg(land > 20000, "no basemap: %ld land pixels", land);
    if (keep) {
        snprintf(cmd, sizeof cmd, "cp %s %s && cp %s %s.pdf", png, keep, pdf, keep);
        ck_assert_int_eq(sh(cmd, NULL), 0);
    }

    snprintf(cmd, sizeof cmd, "pdfinfo %s", pdf);
    ck_assert_int_eq(sh(cmd, &out), 0);
    const char *pages = strstr(out, "Pages:");
    ck_assert(pages != NULL);
    int npages = atoi(pages + 6);
    ck_assert_int_ge(npages, 2);
    ck_assert_msg(strstr(out, "Trip evidence report: declaration 2026KEMSA0042") != NULL, "%.1500s",
                  out);
    static const char *const want[] = {"CORRIDOR MONITORING CENTRE",
                                       "Trip evidence report",
                                       "2026KEMSA0042",
                                       "SEAL-EX1",
                                       "KCA 123B",
                                       "CSQU3054383",
                                       "Mombasa - Malaba",
                                       "Port of Mombasa",
                                       "Map of the journey",
                                       "Checkpoints passed",
                                       "Emali",
                                       "Countries and border crossings",
                                       "Stops",
                                       "Incidents",
                                       "route_deviation",
                                       "Events",
                                       "trip_armed",
                                       "Verification of the record",
                                       "Chain status: VERIFIED",
                                       "Signature",
                                       "Page 1 of"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(text, want[i]) != NULL, "no \"%s\" in the PDF:\n%.1500s", want[i],
                      text);
    char last[32];
    snprintf(last, sizeof last, "Page %d of %d", npages, npages);
    ck_assert_msg(strstr(text, last) != NULL, "no \"%s\"", last);
    ck_assert(strstr(text, tid) != NULL); /* the footer's trip id */
    free(text);

    /* the record as a DBA changed it: the evidence family's corridor.trip_verification
     * (rules/evidence.sql) finds the changed position, and the report names it */
    harness_exec(db, "UPDATE corridor.positions SET lat = lat + 0.01 WHERE seal_id = 'SEAL-EX1' "
                     "AND ts = (SELECT ts FROM corridor.positions WHERE seal_id = 'SEAL-EX1' "
                     "ORDER BY ts OFFSET 5 LIMIT 1)");
    pdf_text(tid, pdf, sizeof pdf, &text);
    static const char *const broken[] = {"Chain status: BROKEN", "changed after it was stored"};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++)
        ck_assert_msg(strstr(text, broken[i]) != NULL, "no \"%s\" in the PDF:\n%.2500s", broken[i],
                      text);
    free(text);
}
END_TEST

static double secs(struct timespec a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

START_TEST(three_day_trip)
{
    /* 3 days at one fix every 10 s, stored as the batch function would have: straight into
     * the table (the socket would take longer than the test may) */
    long now = (long)time(NULL);
    const char *id = arm("SEAL-EX2", "2026 KE/MSA 77", now);
    char tid[40], path[256], cmd[512], file[256], *out;
    snprintf(tid, sizeof tid, "%s", id);
    /* before its first fix the report already exists, with a map without a track */
    snprintf(path, sizeof path, "/api/trips/%s/track?format=pdf", tid);
    ck_assert_int_eq(get(path), 200);
    ck_assert(resp_len > 1000 && memcmp(body, "%PDF-", 5) == 0);
    harness_exec(db, "INSERT INTO corridor.positions (seal_id, ts, lat, lon, speed_kmh)"
                     " SELECT 'SEAL-EX2', t.armed_at + make_interval(secs => 10 * i),"
                     "  -4.06 + 4.696 * i / 25919.0 + 0.02 * sin(i / 300.0),"
                     "  39.655 - 5.38 * i / 25919.0, 40 + 20 * sin(i / 50.0)"
                     " FROM corridor.trips t, generate_series(1, 25920) i"
                     " WHERE t.seal_id = 'SEAL-EX2'");
    static const char *const fmts[] = {"geojson", "gpx", "kml", "csv", "pdf"};
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        snprintf(path, sizeof path, "/api/trips/%s/track?format=%s", tid, fmts[f]);
        ck_assert_int_eq(get(path), 200);
        double s = secs(t0);
        fprintf(stderr, "three_day_trip: %s of 25920 fixes: %zu bytes in %.3f s\n", fmts[f],
                resp_len, s);
        ck_assert_msg(s < 20, "%s took %.1f s", fmts[f], s);
        ck_assert_str_eq(header("content-disposition") + strlen("attachment; filename=\""),
                         strcmp(fmts[f], "geojson") == 0 ? "trip-2026_KE_MSA_77.geojson\""
                         : strcmp(fmts[f], "gpx") == 0   ? "trip-2026_KE_MSA_77.gpx\""
                         : strcmp(fmts[f], "kml") == 0   ? "trip-2026_KE_MSA_77.kml\""
                         : strcmp(fmts[f], "csv") == 0   ? "trip-2026_KE_MSA_77.csv\""
                                                         : "trip-2026_KE_MSA_77.pdf\"");
        if (strcmp(fmts[f], "csv") == 0)
            ck_assert_int_eq(count_lines(body), 25921);
        if (strcmp(fmts[f], "gpx") == 0) {
            snprintf(file, sizeof file, "%s/big.gpx", tmpdir);
            save(file);
            snprintf(cmd, sizeof cmd, "xmllint --xpath 'count(//*[local-name()=\"trkpt\"])' %s",
                     file);
            ck_assert_int_eq(sh(cmd, &out), 0);
            ck_assert_int_eq(atol(out), 25920);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("exports");
    TCase *tc = tcase_create("exports");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, track_formats);
    tcase_add_test(tc, pdf_report);
    tcase_add_test(tc, three_day_trip);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
