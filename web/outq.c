/*
 * outq.c: one websocket client's queue of things to send, served at the client's pace.
 *
 * Reliable messages (incidents, replies) wait in a FIFO that grows up to rel_max and is
 * never thinned: when it is full the caller disconnects the client, which resyncs with a
 * snapshot. Positions are not queued as messages: a seal's slot is queued once (dirty
 * flag) and the seal's latest position is looked up when the slot is sent, so a slow
 * client gets one message per seal however many positions arrived meanwhile. The slot
 * FIFO is bounded by the number of seals.
 *
 * Owned by one client; runs on the web thread.
 */
#include "web_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void web_outq_init(web_outq *q, size_t rel_max)
{
    memset(q, 0, sizeof *q);
    q->rel_max = rel_max;
}

void web_outq_clear(web_outq *q)
{
    while (q->rel_len) {
        web_msg_unref(q->rel[q->rel_head]);
        q->rel_head = (q->rel_head + 1) % q->rel_cap;
        q->rel_len--;
    }
    free(q->rel);
    free(q->dirty);
    free(q->slots);
    size_t max = q->rel_max;
    web_outq_init(q, max);
}

/* Grows a ring of elem-sized items to hold one more, keeping its order. */
static int ring_grow(void **ring, size_t elem, size_t *head, size_t len, size_t *cap)
{
    if (len < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    char *n = malloc(ncap * elem);
    if (!n)
        return -ENOMEM;
    char *o = *ring;
    for (size_t i = 0; i < len; i++)
        memcpy(n + i * elem, o + ((*head + i) % *cap) * elem, elem);
    free(o);
    *ring = n;
    *head = 0;
    *cap = ncap;
    return 0;
}

int web_outq_push(web_outq *q, web_msg *m)
{
    if (q->rel_len >= q->rel_max)
        return CORE_EFULL;
    int rc = ring_grow((void **)&q->rel, sizeof *q->rel, &q->rel_head, q->rel_len, &q->rel_cap);
    if (rc)
        return rc;
    q->rel[(q->rel_head + q->rel_len) % q->rel_cap] = web_msg_ref(m);
    q->rel_len++;
    return 0;
}

int web_outq_mark(web_outq *q, uint32_t slot)
{
    if (slot >= q->dirty_cap) {
        size_t ncap = q->dirty_cap ? q->dirty_cap : 64;
        while (ncap <= slot)
            ncap *= 2;
        uint8_t *d = realloc(q->dirty, ncap);
        if (!d)
            return -ENOMEM;
        memset(d + q->dirty_cap, 0, ncap - q->dirty_cap);
        q->dirty = d;
        q->dirty_cap = ncap;
    }
    if (q->dirty[slot])
        return 0;
    int rc = ring_grow((void **)&q->slots, sizeof *q->slots, &q->s_head, q->s_len, &q->s_cap);
    if (rc)
        return rc;
    q->slots[(q->s_head + q->s_len) % q->s_cap] = slot;
    q->s_len++;
    q->dirty[slot] = 1;
    return 1;
}

web_msg *web_outq_pop_msg(web_outq *q)
{
    if (!q->rel_len)
        return NULL;
    web_msg *m = q->rel[q->rel_head];
    q->rel_head = (q->rel_head + 1) % q->rel_cap;
    q->rel_len--;
    return m;
}

int web_outq_pop_slot(web_outq *q, uint32_t *slot)
{
    if (!q->s_len)
        return CORE_EAGAIN;
    *slot = q->slots[q->s_head];
    q->s_head = (q->s_head + 1) % q->s_cap;
    q->s_len--;
    q->dirty[*slot] = 0;
    return 0;
}

size_t web_outq_reliable(const web_outq *q)
{
    return q->rel_len;
}

size_t web_outq_slots(const web_outq *q)
{
    return q->s_len;
}
