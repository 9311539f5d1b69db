/*
 * demo.c: `corridor-sim demo-data`: loads the demo reference data through the REST API,
 * exactly as an officer's script would: the Northern Corridor places (data/
 * northern_corridor.csv) as geofences of their kind and size, plus the restricted zone.
 *
 * Idempotent: it reads GET /api/geofences first and skips names that exist. Polygons are
 * 24-gons at a metric radius (so they are as wide in km at every latitude), closed,
 * counter-clockwise. Runs on the main thread with blocking calls on its own loop.
 */
#include "sim.h"

#include <ctype.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIDES     24
#define NAMES_MAX 4096

static json_object *num(double v)
{
    char s[32];
    snprintf(s, sizeof s, "%.6f", v);
    return json_object_new_double_s(v, s);
}

/* A GeoJSON Feature: a circle-like polygon around (lat, lon). NULL on allocation failure. */
static json_object *feature(const char *name, const char *kind, const char *country, double lat,
                            double lon, double radius_m)
{
    sim_point ring[SIDES + 1];
    sim_geo_circle(lat, lon, radius_m, SIDES, ring);
    json_object *f = json_object_new_object(), *props = json_object_new_object(),
                *geom = json_object_new_object(), *coords = json_object_new_array(),
                *lr = json_object_new_array();
    if (!f || !props || !geom || !coords || !lr)
        goto fail;
    for (int i = 0; i <= SIDES; i++) {
        json_object *pt = json_object_new_array();
        if (!pt)
            goto fail;
        json_object_array_add(pt, num(ring[i].lon));
        json_object_array_add(pt, num(ring[i].lat));
        json_object_array_add(lr, pt);
    }
    json_object_array_add(coords, lr);
    json_object_object_add(geom, "type", json_object_new_string("Polygon"));
    json_object_object_add(geom, "coordinates", coords);
    json_object_object_add(props, "name", json_object_new_string(name));
    json_object_object_add(props, "kind", json_object_new_string(kind));
    if (country)
        json_object_object_add(props, "country", json_object_new_string(country));
    json_object_object_add(f, "type", json_object_new_string("Feature"));
    json_object_object_add(f, "properties", props);
    json_object_object_add(f, "geometry", geom);
    return f;
fail:
    json_object_put(lr);
    json_object_put(coords);
    json_object_put(geom);
    json_object_put(props);
    json_object_put(f);
    return NULL;
}

/* Collects the names of the existing geofences from a FeatureCollection, an array of
 * Features, or an array of {name, ...} objects. Returns the count or CORE_EINVAL. */
static int existing_names(const char *body, char **names, int max)
{
    json_object *root = json_tokener_parse(body);
    if (!root)
        return CORE_EINVAL;
    json_object *list = NULL;
    if (json_object_is_type(root, json_type_array))
        list = root;
    else if (!json_object_object_get_ex(root, "features", &list) &&
             !json_object_object_get_ex(root, "geofences", &list))
        list = NULL;
    int n = 0;
    if (!list || !json_object_is_type(list, json_type_array)) {
        json_object_put(root);
        return CORE_EINVAL;
    }
    for (size_t i = 0; i < json_object_array_length(list) && n < max; i++) {
        json_object *it = json_object_array_get_idx(list, i), *props, *name = NULL;
        if (json_object_object_get_ex(it, "properties", &props))
            json_object_object_get_ex(props, "name", &name);
        if (!name)
            json_object_object_get_ex(it, "name", &name);
        if (name && json_object_is_type(name, json_type_string))
            names[n++] = strdup(json_object_get_string(name));
    }
    json_object_put(root);
    return n;
}

static int known(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], name))
            return 1;
    return 0;
}

/* POSTs one fence unless it exists. Returns 1 created, 0 skipped, negative on failure. */
static int put_fence(sim_http *h, const char *hdr, char **names, int n_names, const char *name,
                     const char *kind, const char *country, double lat, double lon, double r)
{
    if (known(names, n_names, name)) {
        printf("demo-data: %-40s %-15s exists, skipped\n", name, kind);
        return 0;
    }
    json_object *f = feature(name, kind, country, lat, lon, r);
    if (!f)
        return CORE_EINVAL;
    char *body = NULL;
    int st = sim_http_call(h, "POST", "/api/geofences", hdr,
                           json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN), &body);
    json_object_put(f);
    int ret;
    if (st == 200 || st == 201) {
        printf("demo-data: %-40s %-15s created (%.1f km across)\n", name, kind, 2 * r / 1000);
        ret = 1;
    } else {
        if (st < 0)
            core_error("sim", "POST /api/geofences \"%s\": no answer (%s)", name,
                       core_strerror(st));
        else
            core_error("sim", "POST /api/geofences \"%s\": HTTP %d %s", name, st, body ? body : "");
        ret = st < 0 ? st : CORE_EINVAL;
    }
    free(body);
    return ret;
}

/* POSTs the rapid response unit based at place p (created, or updated when it exists).
 * Returns 0 or a negative code. */
static int put_unit(sim_http *h, const char *hdr, const sim_place *p)
{
    char id[64], name[SIM_NAME_MAX + 32];
    size_t j = 0;
    j += (size_t)snprintf(id, sizeof id, "RRU-");
    for (const char *c = p->name; *c && j < sizeof id - 1; c++)
        if (isalnum((unsigned char)*c))
            id[j++] = (char)toupper((unsigned char)*c);
        else if (j && id[j - 1] != '-')
            id[j++] = '-';
    while (j && id[j - 1] == '-')
        j--;
    id[j] = 0;
    snprintf(name, sizeof name, "%s rapid response unit", p->name);
    json_object *u = json_object_new_object(), *base = json_object_new_object(),
                *coords = json_object_new_array();
    json_object_array_add(coords, num(p->lon));
    json_object_array_add(coords, num(p->lat));
    json_object_object_add(base, "type", json_object_new_string("Point"));
    json_object_object_add(base, "coordinates", coords);
    json_object_object_add(u, "id", json_object_new_string(id));
    json_object_object_add(u, "name", json_object_new_string(name));
    json_object_object_add(u, "base", base);
    json_object_object_add(u, "status", json_object_new_string("available"));
    char *body = NULL;
    int st = sim_http_call(h, "POST", "/api/rrus", hdr,
                           json_object_to_json_string_ext(u, JSON_C_TO_STRING_PLAIN), &body);
    json_object_put(u);
    int ret = 0;
    if (st == 200 || st == 201) {
        printf("demo-data: %-40s %-15s %s\n", id, "unit", st == 201 ? "created" : "updated");
    } else {
        core_error("sim", "POST /api/rrus \"%s\": HTTP %d %s", id, st, body ? body : "");
        ret = st < 0 ? st : CORE_EINVAL;
    }
    free(body);
    return ret;
}

int sim_demo_data(const sim_opts *o)
{
    sim_place *places = NULL;
    struct event_base *base = NULL;
    sim_http *h = NULL;
    char *body = NULL, *names[NAMES_MAX];
    int n_names = 0, ret = 1, created = 0, skipped = 0;
    char err[256], hdr[512];

    places = calloc(SIM_PLACES_MAX, sizeof *places);
    if (!places)
        goto fail;
    int n = sim_places_load(o->data, places, SIM_PLACES_MAX, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "corridor-sim: %s\n", err);
        ret = 2;
        goto fail;
    }
    base = event_base_new();
    if (!base)
        goto fail;
    h = sim_http_new(base, o->http, 64u << 20, 30, err, sizeof err);
    if (!h) {
        fprintf(stderr, "corridor-sim: --http: %s\n", err);
        ret = 2;
        goto fail;
    }
    sim_rest_headers(o, hdr, sizeof hdr);
    int st = sim_http_call(h, "GET", "/api/geofences", hdr, NULL, &body);
    if (st != 200) {
        if (st < 0)
            core_error("sim", "GET http://%s/api/geofences: no answer (%s)", o->http,
                       core_strerror(st));
        else
            core_error("sim", "GET http://%s/api/geofences: HTTP %d %s", o->http, st,
                       body ? body : "");
        goto fail;
    }
    n_names = existing_names(body ? body : "", names, NAMES_MAX);
    if (n_names < 0) {
        core_error("sim", "GET /api/geofences: not a list of Features");
        n_names = 0;
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        const char *kind;
        double r;
        if (sim_place_fence(&places[i], &kind, &r))
            continue;
        int rc = put_fence(h, hdr, names, n_names, places[i].name, kind, places[i].country,
                           places[i].lat, places[i].lon, r);
        if (rc < 0)
            goto fail;
        created += rc;
        skipped += !rc;
    }
    const sim_zone *z = sim_corridor_restricted();
    int rc = put_fence(h, hdr, names, n_names, z->name, z->kind, z->country, z->lat, z->lon,
                       z->radius_m);
    if (rc < 0)
        goto fail;
    created += rc;
    skipped += !rc;
    printf("demo-data: %d geofences created, %d already there\n", created, skipped);
    /* the rapid response units along the corridor, where incidents are dispatched */
    for (int i = 0; i < n; i++)
        if (strcmp(places[i].kind, "rru") == 0 && put_unit(h, hdr, &places[i]) < 0)
            goto fail;
    ret = 0;
fail:
    for (int i = 0; i < n_names; i++)
        free(names[i]);
    free(body);
    sim_http_free(h);
    if (base)
        event_base_free(base);
    free(places);
    return ret;
}
