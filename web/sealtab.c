/*
 * sealtab.c: the seals the gateway has seen positions for: an open-addressing hash from
 * seal id to a dense slot number, and per slot the latest position message and its time.
 * Slots are what clients' out queues hold (outq.c); they are never reused.
 *
 * Owns the ids and one reference to each slot's message. Runs on the web thread.
 */
#include "web_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX   64
#define TIME_MAX 32

struct slot {
    char id[ID_MAX + 1];
    char time[TIME_MAX];
    web_msg *msg;
};

struct web_sealtab {
    uint32_t max, count;
    struct slot *slots; /* count used, slots_cap allocated */
    uint32_t slots_cap;
    uint32_t *hash; /* slot + 1, 0 = empty; hash_cap a power of two */
    uint32_t hash_cap;
};

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

web_sealtab *web_sealtab_new(uint32_t max)
{
    web_sealtab *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max = max;
    t->hash_cap = 64;
    t->hash = calloc(t->hash_cap, sizeof *t->hash);
    if (!t->hash) {
        free(t);
        return NULL;
    }
    return t;
}

void web_sealtab_free(web_sealtab *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->count; i++)
        web_msg_unref(t->slots[i].msg);
    free(t->slots);
    free(t->hash);
    free(t);
}

static int rehash(web_sealtab *t)
{
    uint32_t ncap = t->hash_cap * 2;
    uint32_t *n = calloc(ncap, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (uint32_t i = 0; i < t->count; i++) {
        uint32_t h = fnv1a(t->slots[i].id) & (ncap - 1);
        while (n[h])
            h = (h + 1) & (ncap - 1);
        n[h] = i + 1;
    }
    free(t->hash);
    t->hash = n;
    t->hash_cap = ncap;
    return 0;
}

int web_sealtab_put(web_sealtab *t, const char *id, const char *time, web_msg *m, uint32_t *slot)
{
    size_t idlen = strlen(id);
    if (idlen == 0 || idlen > ID_MAX)
        return CORE_EINVAL;
    if (!time)
        time = "";
    if ((t->count + 1) * 2 > t->hash_cap && rehash(t) != 0)
        return -ENOMEM;
    uint32_t h = fnv1a(id) & (t->hash_cap - 1);
    while (t->hash[h]) {
        struct slot *s = &t->slots[t->hash[h] - 1];
        if (strcmp(s->id, id) == 0) {
            /* same fixed-width ISO 8601 UTC format: string order is time order */
            if (strcmp(time, s->time) < 0)
                return 0;
            web_msg_unref(s->msg);
            s->msg = web_msg_ref(m);
            snprintf(s->time, sizeof s->time, "%s", time);
            *slot = t->hash[h] - 1;
            return 1;
        }
        h = (h + 1) & (t->hash_cap - 1);
    }
    if (t->count >= t->max)
        return CORE_EFULL;
    if (t->count == t->slots_cap) {
        uint32_t ncap = t->slots_cap ? t->slots_cap * 2 : 64;
        struct slot *n = realloc(t->slots, ncap * sizeof *n);
        if (!n)
            return -ENOMEM;
        t->slots = n;
        t->slots_cap = ncap;
    }
    struct slot *s = &t->slots[t->count];
    memcpy(s->id, id, idlen + 1);
    snprintf(s->time, sizeof s->time, "%s", time);
    s->msg = web_msg_ref(m);
    t->hash[h] = t->count + 1;
    *slot = t->count++;
    return 1;
}

web_msg *web_sealtab_msg(const web_sealtab *t, uint32_t slot)
{
    return slot < t->count ? t->slots[slot].msg : NULL;
}

uint32_t web_sealtab_count(const web_sealtab *t)
{
    return t->count;
}
