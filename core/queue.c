/*
 * queue.c: a bounded ring of void* guarded by a mutex. Many producers, one consumer;
 * the consumer is woken by its own loop's mechanism, so there is no condition variable.
 */
#include "core.h"

#include <pthread.h>
#include <stdlib.h>

struct core_queue {
    pthread_mutex_t lock;
    size_t cap, head, len;
    void **items;
};

core_queue *core_queue_new(size_t capacity)
{
    core_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->items = calloc(capacity ? capacity : 1, sizeof *q->items);
    if (!q->items) {
        free(q);
        return NULL;
    }
    q->cap = capacity ? capacity : 1;
    pthread_mutex_init(&q->lock, NULL);
    return q;
}

void core_queue_free(core_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    free(q->items);
    free(q);
}

int core_queue_push(core_queue *q, void *item)
{
    int rc = CORE_EFULL;
    pthread_mutex_lock(&q->lock);
    if (q->len < q->cap) {
        q->items[(q->head + q->len) % q->cap] = item;
        q->len++;
        rc = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void *core_queue_pop(core_queue *q)
{
    void *item = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->len) {
        item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
    pthread_mutex_unlock(&q->lock);
    return item;
}

size_t core_queue_len(core_queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}
