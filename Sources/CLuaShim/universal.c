/* Universal objects: a queue and an event shared by every thread of the process
   (kernel tasks, worker Lua states, Swift host threads). One mutex per object.
   Tasks wait through kernel wake-ups (a callback that posts to their kernel's
   inbox, made while the lock is held); OS threads wait on a condition variable.
   Items are encoded messages, so they belong to no Lua state. Task waiters retry
   after a wake-up: an item stays in the queue until a getter takes it, so a
   cancelled or timed-out waiter loses nothing (its wake-up passes on). */
#include "CLuaShim.h"
#include "cl_workers.h"
#include "codec.h"
#include <errno.h>
#include <lauxlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct waiter {
    struct waiter *next;
    int what;
    cl_wake_fn fn;
    void *ctx;
    int64_t token;
} waiter;

struct cl_uobj {
    atomic_int refs;
    int kind;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int thread_waiters;
    waiter *waiters; /* FIFO: appended at the tail */
    /* queue */
    cl_msg **ring;
    size_t head, count, cap;
    int64_t maxsize, unfinished;
    /* event */
    int set;
};

cl_uobj *cl_uobj_new(int kind, int64_t maxsize) {
    cl_uobj *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    atomic_init(&o->refs, 1);
    o->kind = kind;
    o->maxsize = maxsize > 0 ? maxsize : 0;
    pthread_mutex_init(&o->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->cond, &ca);
    pthread_condattr_destroy(&ca);
    return o;
}

void cl_uobj_retain(cl_uobj *o) { atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed); }

void cl_uobj_release(cl_uobj *o) {
    if (!o || atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < o->count; i++) cl_msg_free(o->ring[(o->head + i) % o->cap]);
    free(o->ring);
    for (waiter *w = o->waiters, *n; w; w = n) { n = w->next; free(w); }
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cond);
    free(o);
}

int cl_uobj_kind(cl_uobj *o) { return o->kind; }

static int holds(cl_uobj *o, int what) {
    switch (what) {
    case CL_WAIT_GET: return o->count > 0;
    case CL_WAIT_PUT: return o->maxsize == 0 || (int64_t)o->count < o->maxsize;
    case CL_WAIT_JOIN: return o->unfinished == 0;
    case CL_WAIT_SET: return o->set;
    }
    return 1;
}

/* Wakes up to n task waiters for `what` (the condition holds) and every blocked
   thread. Lock held. */
static void wake(cl_uobj *o, int what, int n) {
    waiter **pp = &o->waiters;
    while (*pp && n > 0) {
        waiter *w = *pp;
        if (w->what == what) {
            *pp = w->next;
            w->fn(w->ctx, w->token);
            free(w);
            n--;
        } else {
            pp = &w->next;
        }
    }
    if (o->thread_waiters) pthread_cond_broadcast(&o->cond);
}

int cl_uobj_wait_task(cl_uobj *o, int what, cl_wake_fn fn, void *ctx, int64_t token) {
    pthread_mutex_lock(&o->mu);
    if (holds(o, what)) { pthread_mutex_unlock(&o->mu); return 1; }
    waiter *w = malloc(sizeof *w);
    if (!w) { pthread_mutex_unlock(&o->mu); return 1; } /* the caller retries */
    *w = (waiter){ NULL, what, fn, ctx, token };
    waiter **pp = &o->waiters;
    while (*pp) pp = &(*pp)->next;
    *pp = w;
    pthread_mutex_unlock(&o->mu);
    return 0;
}

void cl_uobj_unwait_task(cl_uobj *o, void *ctx, int64_t token) {
    pthread_mutex_lock(&o->mu);
    for (waiter **pp = &o->waiters; *pp; pp = &(*pp)->next) {
        waiter *w = *pp;
        if (w->ctx == ctx && w->token == token) {
            *pp = w->next;
            free(w);
            pthread_mutex_unlock(&o->mu);
            return;
        }
    }
    /* Already woken, and will not use it: hand the wake-up on. */
    if (holds(o, CL_WAIT_GET)) wake(o, CL_WAIT_GET, 1);
    if (holds(o, CL_WAIT_PUT)) wake(o, CL_WAIT_PUT, 1);
    pthread_mutex_unlock(&o->mu);
}

/* ---- queue operations (lock held) */

static int push_item(cl_uobj *q, cl_msg *m) {
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        cl_msg **r = malloc(sizeof *r * cap);
        if (!r) return -1;
        for (size_t i = 0; i < q->count; i++) r[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = r;
        q->head = 0;
        q->cap = cap;
    }
    q->ring[(q->head + q->count) % q->cap] = m;
    q->count++;
    q->unfinished++;
    wake(q, CL_WAIT_GET, 1);
    return 0;
}

static cl_msg *pop_item(cl_uobj *q) {
    cl_msg *m = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    wake(q, CL_WAIT_PUT, 1);
    return m;
}

int cl_uq_tryput(cl_uobj *q, cl_msg *m) {
    pthread_mutex_lock(&q->mu);
    int ok = holds(q, CL_WAIT_PUT) && push_item(q, m) == 0;
    pthread_mutex_unlock(&q->mu);
    return ok;
}

cl_msg *cl_uq_tryget(cl_uobj *q) {
    pthread_mutex_lock(&q->mu);
    cl_msg *m = q->count ? pop_item(q) : NULL;
    pthread_mutex_unlock(&q->mu);
    return m;
}

/* Waits on the condition variable until `what` holds; lock held. 0, or -1 on
   timeout. */
static int block_until(cl_uobj *o, int what, double timeout) {
    struct timespec dl;
    if (timeout >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &dl);
        double s = (double)dl.tv_sec + dl.tv_nsec / 1e9 + (timeout > 1e9 ? 1e9 : timeout);
        dl.tv_sec = (time_t)s;
        dl.tv_nsec = (long)((s - (double)dl.tv_sec) * 1e9);
    }
    while (!holds(o, what)) {
        o->thread_waiters++;
        int rc = timeout >= 0 ? pthread_cond_timedwait(&o->cond, &o->mu, &dl)
                              : pthread_cond_wait(&o->cond, &o->mu);
        o->thread_waiters--;
        if (rc == ETIMEDOUT && !holds(o, what)) return -1;
    }
    return 0;
}

int cl_uq_put_block(cl_uobj *q, cl_msg *m, double timeout) {
    pthread_mutex_lock(&q->mu);
    int rc = block_until(q, CL_WAIT_PUT, timeout);
    if (rc == 0) rc = push_item(q, m);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

cl_msg *cl_uq_get_block(cl_uobj *q, double timeout) {
    pthread_mutex_lock(&q->mu);
    cl_msg *m = block_until(q, CL_WAIT_GET, timeout) == 0 ? pop_item(q) : NULL;
    pthread_mutex_unlock(&q->mu);
    return m;
}

int cl_uq_join_block(cl_uobj *q, double timeout) {
    pthread_mutex_lock(&q->mu);
    int rc = block_until(q, CL_WAIT_JOIN, timeout);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int cl_uq_task_done(cl_uobj *q) {
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    if (q->unfinished <= 0) rc = -1;
    else if (--q->unfinished == 0) wake(q, CL_WAIT_JOIN, 1 << 30);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int64_t cl_uq_size(cl_uobj *q) {
    pthread_mutex_lock(&q->mu);
    int64_t n = (int64_t)q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int64_t cl_uq_maxsize(cl_uobj *q) { return q->maxsize; }

void cl_ue_set(cl_uobj *e) {
    pthread_mutex_lock(&e->mu);
    if (!e->set) {
        e->set = 1;
        wake(e, CL_WAIT_SET, 1 << 30);
    }
    pthread_mutex_unlock(&e->mu);
}

void cl_ue_clear(cl_uobj *e) {
    pthread_mutex_lock(&e->mu);
    e->set = 0;
    pthread_mutex_unlock(&e->mu);
}

int cl_ue_is_set(cl_uobj *e) {
    pthread_mutex_lock(&e->mu);
    int s = e->set;
    pthread_mutex_unlock(&e->mu);
    return s;
}

int cl_ue_wait_block(cl_uobj *e, double timeout) {
    pthread_mutex_lock(&e->mu);
    int rc = block_until(e, CL_WAIT_SET, timeout);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- Lua userdata: { magic, object }, metatables curio.UniversalQueue/Event */

#define UMAGIC 0x556e6976u /* "Univ" */
typedef struct { uint32_t magic; cl_uobj *o; } ubox;

static const char *mtname(int kind) {
    return kind == CL_UQUEUE ? "curio.UniversalQueue" : "curio.UniversalEvent";
}

cl_uobj *cl_uobj_check(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) != sizeof(ubox)) return NULL;
    ubox *b = lua_touserdata(L, idx);
    return b->magic == UMAGIC ? b->o : NULL;
}

static int ubox_gc(lua_State *L) {
    ubox *b = lua_touserdata(L, 1);
    if (cl_uobj_check(L, 1) && b->o) { cl_uobj_release(b->o); b->o = NULL; }
    return 0;
}

static void push_ubox(lua_State *L, cl_uobj *o) {
    ubox *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->magic = 0;
    b->o = NULL;
    if (luaL_newmetatable(L, mtname(o->kind))) {
        /* first one in this state (a worker's): load the methods */
        lua_pushcfunction(L, ubox_gc);
        lua_setfield(L, -2, "__gc");
        lua_getglobal(L, "require");
        lua_pushliteral(L, "curio.universal");
        lua_call(L, 1, 0);
    }
    lua_setmetatable(L, -2);
    b->magic = UMAGIC;
    b->o = o;
    cl_uobj_retain(o);
}

static int push_p(lua_State *L) {
    push_ubox(L, lua_touserdata(L, 1));
    return 1;
}

int cl_uobj_push(lua_State *L, cl_uobj *o) {
    if (!lua_checkstack(L, 3)) return -1;
    lua_pushcfunction(L, push_p);
    lua_pushlightuserdata(L, o);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) { lua_pop(L, 1); return -1; }
    return 0;
}

static int setglobal_p(lua_State *L) {
    push_ubox(L, lua_touserdata(L, 1));
    lua_setglobal(L, lua_tostring(L, 2));
    return 0;
}

int cl_uobj_setglobal(lua_State *L, const char *name, cl_uobj *o) {
    if (!lua_checkstack(L, 3)) return -1;
    lua_pushcfunction(L, setglobal_p);
    lua_pushlightuserdata(L, o);
    lua_pushstring(L, name);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) { lua_pop(L, 1); return -1; }
    return 0;
}

static cl_uobj *check(lua_State *L, int idx, int kind) {
    cl_uobj *o = cl_uobj_check(L, idx);
    if (!o || o->kind != kind)
        luaL_typeerror(L, idx, mtname(kind) + 6);
    return o;
}

/* ---- curio.cuniversal */

static int l_new_queue(lua_State *L) {
    lua_Integer n = luaL_optinteger(L, 1, 0);
    cl_uobj *o = cl_uobj_new(CL_UQUEUE, n);
    if (!o) return luaL_error(L, "not enough memory");
    push_ubox(L, o);
    cl_uobj_release(o);
    return 1;
}

static int l_new_event(lua_State *L) {
    cl_uobj *o = cl_uobj_new(CL_UEVENT, 0);
    if (!o) return luaL_error(L, "not enough memory");
    push_ubox(L, o);
    cl_uobj_release(o);
    return 1;
}

/* metatable(kind) -> the class metatable (created if needed) */
static int l_metatable(lua_State *L) {
    int kind = (int)luaL_checkinteger(L, 1);
    if (luaL_newmetatable(L, mtname(kind))) {
        lua_pushcfunction(L, ubox_gc);
        lua_setfield(L, -2, "__gc");
    }
    return 1;
}

/* pack(q, item) -> box | nil, message (TransferError text) */
static int l_pack(lua_State *L) {
    lua_settop(L, 2);
    cl_msg *m = cl_msg_new();
    if (!m) return luaL_error(L, "not enough memory");
    codec_newbox(L, m);
    if (codec_encode_range(L, m, 2, 2, "item", 0, 1)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

/* tryput(q, box) -> true (box emptied) | false (full) */
static int l_tryput(lua_State *L) {
    cl_uobj *q = check(L, 1, CL_UQUEUE);
    cl_msg **b = luaL_checkudata(L, 2, "curio.Msg");
    if (!*b) return luaL_error(L, "empty message");
    int ok = cl_uq_tryput(q, *b);
    if (ok) *b = NULL;
    lua_pushboolean(L, ok);
    return 1;
}

static int push_item_value(lua_State *L, cl_msg *m) {
    codec_newbox(L, m); /* owns m even if decoding raises */
    int n = codec_decode(L, m->data, m->len, m);
    if (n != 1) return luaL_error(L, "corrupt queue item");
    return 1;
}

/* tryget(q) -> true, item | false */
static int l_tryget(lua_State *L) {
    cl_uobj *q = check(L, 1, CL_UQUEUE);
    lua_pushboolean(L, 1);
    lua_checkstack(L, 4);
    cl_msg *m = cl_uq_tryget(q);
    if (!m) { lua_pushboolean(L, 0); return 1; }
    return 1 + push_item_value(L, m);
}

static double opt_timeout(lua_State *L, int idx) {
    if (lua_isnoneornil(L, idx)) return -1;
    double t = luaL_checknumber(L, idx);
    return t != t || t < 0 ? 0 : t;
}

/* Thread-blocking forms for worker states: put_block(q, box, timeout) -> ok,
   get_block(q, timeout) -> true, item | false, join_block(q, timeout) -> ok,
   wait_block(e, timeout) -> ok. */
static int l_put_block(lua_State *L) {
    cl_uobj *q = check(L, 1, CL_UQUEUE);
    cl_msg **b = luaL_checkudata(L, 2, "curio.Msg");
    if (!*b) return luaL_error(L, "empty message");
    int ok = cl_uq_put_block(q, *b, opt_timeout(L, 3)) == 0;
    if (ok) *b = NULL;
    lua_pushboolean(L, ok);
    return 1;
}

static int l_get_block(lua_State *L) {
    cl_uobj *q = check(L, 1, CL_UQUEUE);
    double t = opt_timeout(L, 2);
    lua_pushboolean(L, 1);
    lua_checkstack(L, 4);
    cl_msg *m = cl_uq_get_block(q, t);
    if (!m) { lua_pushboolean(L, 0); return 1; }
    return 1 + push_item_value(L, m);
}

static int l_join_block(lua_State *L) {
    cl_uobj *q = check(L, 1, CL_UQUEUE);
    lua_pushboolean(L, cl_uq_join_block(q, opt_timeout(L, 2)) == 0);
    return 1;
}

static int l_wait_block(lua_State *L) {
    cl_uobj *e = check(L, 1, CL_UEVENT);
    lua_pushboolean(L, cl_ue_wait_block(e, opt_timeout(L, 2)) == 0);
    return 1;
}

static int l_task_done(lua_State *L) {
    lua_pushboolean(L, cl_uq_task_done(check(L, 1, CL_UQUEUE)) == 0);
    return 1;
}

static int l_qsize(lua_State *L) {
    lua_pushinteger(L, cl_uq_size(check(L, 1, CL_UQUEUE)));
    return 1;
}

static int l_maxsize(lua_State *L) {
    lua_pushinteger(L, cl_uq_maxsize(check(L, 1, CL_UQUEUE)));
    return 1;
}

static int l_unfinished(lua_State *L) {
    cl_uobj *q = check(L, 1, CL_UQUEUE);
    pthread_mutex_lock(&q->mu);
    lua_Integer n = q->unfinished;
    pthread_mutex_unlock(&q->mu);
    lua_pushinteger(L, n);
    return 1;
}

static int l_set(lua_State *L) { cl_ue_set(check(L, 1, CL_UEVENT)); return 0; }
static int l_clear(lua_State *L) { cl_ue_clear(check(L, 1, CL_UEVENT)); return 0; }
static int l_is_set(lua_State *L) {
    lua_pushboolean(L, cl_ue_is_set(check(L, 1, CL_UEVENT)));
    return 1;
}

/* in_worker() -> true in a worker thread's state (Universal calls block the thread) */
static int l_in_worker(lua_State *L) {
    lua_pushboolean(L, lua_getfield(L, LUA_REGISTRYINDEX, "curio.worker") != LUA_TNIL);
    return 1;
}

int cl_open_universal(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"new_queue", l_new_queue}, {"new_event", l_new_event}, {"metatable", l_metatable},
        {"pack", l_pack}, {"tryput", l_tryput}, {"tryget", l_tryget},
        {"put_block", l_put_block}, {"get_block", l_get_block}, {"join_block", l_join_block},
        {"wait_block", l_wait_block}, {"task_done", l_task_done}, {"qsize", l_qsize},
        {"maxsize", l_maxsize}, {"unfinished", l_unfinished}, {"set", l_set},
        {"clear", l_clear}, {"is_set", l_is_set}, {"in_worker", l_in_worker},
        {NULL, NULL},
    };
    luaL_newlib(L, fns);
    lua_pushinteger(L, CL_WAIT_GET); lua_setfield(L, -2, "WAIT_GET");
    lua_pushinteger(L, CL_WAIT_PUT); lua_setfield(L, -2, "WAIT_PUT");
    lua_pushinteger(L, CL_WAIT_JOIN); lua_setfield(L, -2, "WAIT_JOIN");
    lua_pushinteger(L, CL_WAIT_SET); lua_setfield(L, -2, "WAIT_SET");
    return 1;
}
