/*
 * geo_shape.c: validation of shapes that users submit (GEOS). Thread-safe: every call
 * makes its own GEOS context, so the web thread and any other may call it.
 */
#include "geofence.h"
#include "core.h"

#include <geos_c.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

/* Largest geofence accepted: a border or a port is a few thousand vertices at most. */
#define GEO_SHAPE_MAX_VERTICES 100000

struct msg {
    char text[256];
};

static void on_geos_error(const char *fmt, void *userdata)
{
    struct msg *m = userdata;
    if (!m->text[0])
        snprintf(m->text, sizeof m->text, "%s", fmt);
}

/* 1 if every array under coordinates is non-empty and every position holds 2 or 3
 * finite numbers. GEOS's GeoJSON reader crashes on an empty position, so no text reaches
 * it before this walk. */
static int coords_ok(json_object *a, int depth)
{
    if (!json_object_is_type(a, json_type_array) || depth > 6)
        return 0;
    size_t n = json_object_array_length(a);
    if (n == 0)
        return 0;
    json_object *first = json_object_array_get_idx(a, 0);
    if (json_object_is_type(first, json_type_array)) {
        for (size_t i = 0; i < n; i++)
            if (!coords_ok(json_object_array_get_idx(a, i), depth + 1))
                return 0;
        return 1;
    }
    if (n < 2 || n > 3)
        return 0;
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(a, i);
        if ((!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) ||
            !isfinite(json_object_get_double(v)))
            return 0;
    }
    return 1;
}

static int positions_ok(const char *text, char *reason, size_t n)
{
    json_object *root = json_tokener_parse(text), *coords;
    int ok = root && json_object_is_type(root, json_type_object) &&
             json_object_object_get_ex(root, "coordinates", &coords) && coords_ok(coords, 0);
    json_object_put(root);
    if (!ok)
        snprintf(reason, n,
                 "not a GeoJSON geometry: every position must be 2 or 3 finite "
                 "numbers and no coordinate array may be empty");
    return ok;
}

int geo_shape_validate(const char *geojson, size_t len, char *reason, size_t n)
{
    int rc = CORE_EINVAL;
    struct msg m = {{0}};
    GEOSContextHandle_t h = NULL;
    GEOSGeoJSONReader *reader = NULL;
    GEOSGeometry *g = NULL;
    char *text = NULL;

    if (len > 32 * 1024 * 1024) {
        snprintf(reason, n, "geometry larger than 32 MiB");
        return CORE_ETOOBIG;
    }
    text = strndup(geojson, len);
    if (!text) {
        snprintf(reason, n, "out of memory");
        return CORE_EINVAL;
    }
    if (!positions_ok(text, reason, n))
        goto done;
    h = GEOS_init_r();
    if (!h) {
        snprintf(reason, n, "out of memory");
        goto done;
    }
    GEOSContext_setErrorMessageHandler_r(h, on_geos_error, &m);
    reader = GEOSGeoJSONReader_create_r(h);
    if (!reader)
        goto fail;
    g = GEOSGeoJSONReader_readGeometry_r(h, reader, text);
    if (!g) {
        snprintf(reason, n, "not a GeoJSON geometry: %s", m.text[0] ? m.text : "parse error");
        goto done;
    }
    int type = GEOSGeomTypeId_r(h, g);
    if (type != GEOS_POLYGON && type != GEOS_MULTIPOLYGON) {
        char *t = GEOSGeomType_r(h, g);
        snprintf(reason, n, "a geofence must be a Polygon or MultiPolygon, not %s", t ? t : "?");
        GEOSFree_r(h, t);
        goto done;
    }
    if (GEOSisEmpty_r(h, g) == 1) {
        snprintf(reason, n, "the geometry is empty");
        goto done;
    }
    int nc = GEOSGetNumCoordinates_r(h, g);
    if (nc > GEO_SHAPE_MAX_VERTICES) {
        snprintf(reason, n, "%d vertices, more than the limit of %d", nc, GEO_SHAPE_MAX_VERTICES);
        rc = CORE_ETOOBIG;
        goto done;
    }
    double xmin, xmax, ymin, ymax;
    if (!GEOSGeom_getXMin_r(h, g, &xmin) || !GEOSGeom_getXMax_r(h, g, &xmax) ||
        !GEOSGeom_getYMin_r(h, g, &ymin) || !GEOSGeom_getYMax_r(h, g, &ymax))
        goto fail;
    if (!isfinite(xmin) || !isfinite(xmax) || !isfinite(ymin) || !isfinite(ymax) || xmin < -180 ||
        xmax > 180 || ymin < -90 || ymax > 90) {
        snprintf(reason, n,
                 "coordinates outside WGS 84 bounds (longitude -180..180, latitude -90..90)");
        goto done;
    }
    char *why = GEOSisValidReason_r(h, g);
    if (!why)
        goto fail;
    if (strcmp(why, "Valid Geometry") == 0) {
        rc = 0;
    } else {
        snprintf(reason, n, "%s", why);
    }
    GEOSFree_r(h, why);
    goto done;

fail:
    snprintf(reason, n, "geometry check failed: %s", m.text[0] ? m.text : "GEOS error");
done:
    if (g)
        GEOSGeom_destroy_r(h, g);
    if (reader)
        GEOSGeoJSONReader_destroy_r(h, reader);
    if (h)
        GEOS_finish_r(h);
    free(text);
    return rc;
}
