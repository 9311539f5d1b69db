/*
 * metrics.c: the gateway's counters, counted and shown: web_count_status() for every
 * response the gateway gives (HTTP answers in http.c, refused websocket upgrades in ws.c)
 * and web_metrics(), the text of /metrics. Both http.c and ws.c count here, so neither
 * calls the other.
 *
 * Owns nothing: the counters are w->ctr (atomics, so any thread may count); web_metrics
 * runs on the web thread, which alone uses w->db.
 */
#include "web_int.h"

#include <stdlib.h>

void web_count_status(struct web *w, int status)
{
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add_explicit(&w->ctr.http_class[cls], 1, memory_order_relaxed);
    if (cls == 4)
        atomic_fetch_add_explicit(&w->ctr.http_4xx[status - 400], 1, memory_order_relaxed);
}

void web_metrics(struct web *w, web_buf *b)
{
    web_counters *c = &w->ctr;
#define LD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))
    web_buf_addstr(b, "# HELP corridor_web_http_responses_total HTTP responses by status class\n"
                      "# TYPE corridor_web_http_responses_total counter\n");
    for (int i = 1; i <= 5; i++)
        web_buf_printf(b, "corridor_web_http_responses_total{class=\"%dxx\"} %llu\n", i,
                       LD(c->http_class[i]));
    web_buf_addstr(b, "# HELP corridor_web_http_client_errors_total 4xx responses by code\n"
                      "# TYPE corridor_web_http_client_errors_total counter\n");
    for (int i = 0; i < 100; i++)
        if (LD(c->http_4xx[i]))
            web_buf_printf(b, "corridor_web_http_client_errors_total{code=\"%d\"} %llu\n", 400 + i,
                           LD(c->http_4xx[i]));
    web_buf_printf(b,
                   "# TYPE corridor_web_ws_clients gauge\ncorridor_web_ws_clients %llu\n"
                   "# TYPE corridor_web_ws_messages_sent_total counter\n"
                   "corridor_web_ws_messages_sent_total %llu\n"
                   "# TYPE corridor_web_ws_positions_coalesced_total counter\n"
                   "corridor_web_ws_positions_coalesced_total %llu\n"
                   "# TYPE corridor_web_ws_incidents_queued_total counter\n"
                   "corridor_web_ws_incidents_queued_total %llu\n"
                   "# TYPE corridor_web_ws_clients_dropped_total counter\n"
                   "corridor_web_ws_clients_dropped_total %llu\n"
                   "# TYPE corridor_web_ws_bad_messages_total counter\n"
                   "corridor_web_ws_bad_messages_total %llu\n"
                   "# TYPE corridor_web_events_received_total counter\n"
                   "corridor_web_events_received_total %llu\n"
                   "# TYPE corridor_web_events_bad_total counter\n"
                   "corridor_web_events_bad_total %llu\n"
                   "# TYPE corridor_web_events_dropped_total counter\n"
                   "corridor_web_events_dropped_total %llu\n"
                   "# TYPE corridor_web_positions_stale_total counter\n"
                   "corridor_web_positions_stale_total %llu\n"
                   "# TYPE corridor_web_events_queue_depth gauge\n"
                   "corridor_web_events_queue_depth %zu\n"
                   "# TYPE corridor_web_seals_tracked gauge\n"
                   "corridor_web_seals_tracked %u\n",
                   LD(c->ws_clients), LD(c->ws_sent), LD(c->ws_coalesced),
                   LD(c->ws_incidents_queued), LD(c->ws_dropped), LD(c->ws_bad_in),
                   LD(c->events_in), LD(c->events_bad), LD(c->events_dropped),
                   LD(c->positions_stale), core_queue_len(w->events), web_sealtab_count(w->seals));
    web_buf_printf(b,
                   "# TYPE corridor_web_connections_refused_total counter\n"
                   "corridor_web_connections_refused_total %llu\n",
                   LD(c->conn_refused));
#undef LD
    /* incidents by state, from the database (one indexed aggregate per scrape) */
    PGresult *r = web_db_exec(w->db, "web_incident_states", 0, NULL);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK) {
        web_buf_addstr(b, "# HELP corridor_incidents Incidents by state.\n"
                          "# TYPE corridor_incidents gauge\n");
        for (int i = 0; i < PQntuples(r); i++)
            web_buf_printf(b, "corridor_incidents{state=\"%s\"} %s\n", PQgetvalue(r, i, 0),
                           PQgetvalue(r, i, 1));
    }
    PQclear(r);
    if (w->hooks.metrics) {
        size_t room = b->max - b->len;
        if (room > WEB_METRICS_MAX)
            room = WEB_METRICS_MAX;
        char *tmp = malloc(room + 1);
        if (tmp) {
            size_t got = w->hooks.metrics(w->hooks.arg, tmp, room);
            web_buf_add(b, tmp, got < room ? got : room);
            free(tmp);
        }
    }
}
