/*
 * pdf.h: the PDF evidence report of a trip, drawn with cairo (docs/exports.md).
 *
 * Page 1 has the title block and the map of the track over the country basemap, with the
 * route corridor, checkpoints, events and incidents, a scale bar and a legend; the
 * reconciliation report's tables follow, then the verification of the hash chain and a
 * signature block. Every page has a footer with the trip id and "Page x of y".
 *
 * Pure: no I/O but through the write callback, no globals; any thread.
 */
#ifndef CORRIDOR_WEB_PDF_H
#define CORRIDOR_WEB_PDF_H

#include <stddef.h>

struct json_object;

/* A4 portrait in PostScript points, and where page 1's map is (points from the top left):
 * tests look for the track's colour there. */
#define PDF_PAGE_W 595.276
#define PDF_PAGE_H 841.890
#define PDF_MAP_X  48.0
#define PDF_MAP_Y  250.0
#define PDF_MAP_W  499.0
#define PDF_MAP_H  420.0
/* The track's colour, 0xRRGGBB. */
#define PDF_TRACK_RGB 0xd91a1a

/* Receives the document's bytes in order; 0 to go on, anything else stops it. */
typedef int (*pdf_write_fn)(void *arg, const unsigned char *data, size_t len);

/* Draws the report of one trip: report is corridor.trip_report's JSON, map is
 * corridor.trip_map's, verification corridor.trip_verification's record or NULL when the
 * database has no hash chain. Nothing is owned or kept. Returns 0; the write callback's
 * nonzero return when it stopped; CORE_EINVAL when cairo fails. */
int pdf_evidence_report(struct json_object *report, struct json_object *map,
                        struct json_object *verification, pdf_write_fn write, void *arg);

#endif
