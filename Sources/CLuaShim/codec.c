/* The transfer codec: moves Lua values between states (threads, processes,
   channels) as bytes. nil, booleans, integers and floats (bit-exact, NaN and inf
   kept), binary strings, tables (shared and cyclic references preserved) and
   Universal objects (as handles, within one process). Encoding and decoding run
   as Lua C functions, so errors raise in Lua, never across a Swift frame.

   Format (host byte order; both ends are the same machine or the same ABI):
     0 nil | 1 false | 2 true | 3 int64 | 4 int32 | 5 double | 6 string u32 len
     | 7 string u8 len | 8 table u32 narr, u32 nhash, narr values, nhash pairs
     | 9 backref u32 (tables numbered in order of first appearance)
     | 10 handle u8 kind, u32 index into the message's handles
     | 11 table like 8, that a later backref names (only those are remembered)
     | 12 string like 7, that a later 13 names (only those are kept)
     | 13 string backref u32 (short strings, tags 7 and 12, numbered in order)
   Only short strings (under 256 bytes: keys, names, tags) are sent once and then
   referred to: that spares the decoder hashing and interning them again.
   Limits: CODEC_MAXDEPTH nested tables; messages up to CODEC_MAXSIZE bytes. */
#include "CLuaShim.h"
#include "cl_workers.h"
#include "codec.h"
#include <lauxlib.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_NIL, T_FALSE, T_TRUE, T_INT64, T_INT32, T_DOUBLE, T_STR, T_SSTR, T_TABLE, T_REF, T_HANDLE,
       T_STABLE /* a table referred to again later: the decoder keeps it for T_REF */,
       T_KSSTR /* a T_SSTR referred to again later (kept for T_SREF) */, T_SREF };

/* ---- messages */

cl_msg *cl_msg_new(void) { return calloc(1, sizeof(cl_msg)); }

void cl_msg_free(cl_msg *m) {
    if (!m) return;
    for (int i = 0; i < m->nhandles; i++) cl_uobj_release(m->handles[i]);
    free(m->handles);
    free(m->data);
    free(m);
}

__attribute__((noinline)) static int grow(cl_msg *m, size_t n) {
    if (n > CODEC_MAXSIZE || m->len + n > CODEC_MAXSIZE) return -2;
    size_t cap = m->cap ? m->cap : 64;
    while (cap < m->len + n) cap *= 2;
    char *d = realloc(m->data, cap);
    if (!d) return -1;
    m->data = d;
    m->cap = cap;
    return 0;
}

static inline int reserve(cl_msg *m, size_t n) {
    return m->len + n <= m->cap ? 0 : grow(m, n);
}

static inline int put(cl_msg *m, const void *p, size_t n) {
    int rc = reserve(m, n);
    if (rc) return rc;
    memcpy(m->data + m->len, p, n);
    m->len += n;
    return 0;
}

static inline int put_u8(cl_msg *m, unsigned char b) {
    if (m->len < m->cap) { m->data[m->len++] = (char)b; return 0; }
    return put(m, &b, 1);
}

static inline int put_tag_u32(cl_msg *m, unsigned char tag, uint32_t v) {
    int rc = reserve(m, 5);
    if (rc) return rc;
    m->data[m->len] = (char)tag;
    memcpy(m->data + m->len + 1, &v, 4);
    m->len += 5;
    return 0;
}

int cl_msg_put_nil(cl_msg *m) { return put_u8(m, T_NIL) ? -1 : 0; }
int cl_msg_put_bool(cl_msg *m, int b) { return put_u8(m, b ? T_TRUE : T_FALSE) ? -1 : 0; }

int cl_msg_put_int(cl_msg *m, int64_t i) {
    if (i >= INT32_MIN && i <= INT32_MAX) {
        int32_t v = (int32_t)i;
        if (reserve(m, 5)) return -1;
        m->data[m->len] = T_INT32;
        memcpy(m->data + m->len + 1, &v, 4);
        m->len += 5;
        return 0;
    }
    if (reserve(m, 9)) return -1;
    m->data[m->len] = T_INT64;
    memcpy(m->data + m->len + 1, &i, 8);
    m->len += 9;
    return 0;
}

int cl_msg_put_double(cl_msg *m, double d) {
    if (reserve(m, 9)) return -1;
    m->data[m->len] = T_DOUBLE;
    memcpy(m->data + m->len + 1, &d, 8);
    m->len += 9;
    return 0;
}

int cl_msg_put_string(cl_msg *m, const char *s, size_t len) {
    if (len > CODEC_MAXSIZE) return -1;
    if (len < 256) {
        if (reserve(m, len + 2)) return -1;
        m->data[m->len] = T_SSTR;
        m->data[m->len + 1] = (char)len;
        memcpy(m->data + m->len + 2, s, len);
        m->len += len + 2;
        return 0;
    }
    if (put_tag_u32(m, T_STR, (uint32_t)len) || put(m, s, len)) return -1;
    return 0;
}

int cl_msg_put_table(cl_msg *m, uint32_t narr, uint32_t nhash) {
    if (put_tag_u32(m, T_TABLE, narr) || put(m, &nhash, 4)) return -1;
    return 0;
}

int cl_msg_put_handle(cl_msg *m, cl_uobj *o) {
    if (m->nhandles == m->hcap) {
        int cap = m->hcap ? m->hcap * 2 : 4;
        cl_uobj **h = realloc(m->handles, sizeof *h * (size_t)cap);
        if (!h) return -1;
        m->handles = h;
        m->hcap = cap;
    }
    unsigned char b[6] = { T_HANDLE, (unsigned char)cl_uobj_kind(o) };
    uint32_t idx = (uint32_t)m->nhandles;
    memcpy(b + 2, &idx, 4);
    if (put(m, b, 6)) return -1;
    cl_uobj_retain(o);
    m->handles[m->nhandles++] = o;
    return 0;
}

/* ---- the message box: a userdata owning a cl_msg (freed by __gc) */

#define MSGBOX "curio.Msg"

static int box_gc(lua_State *L) {
    cl_msg **b = luaL_checkudata(L, 1, MSGBOX);
    cl_msg_free(*b);
    *b = NULL;
    return 0;
}

/* The box metatable is also kept under this address in the registry, so that
   cl_msg_take can recognise a box without API calls that may raise. */
static char msgbox_key;

cl_msg **codec_newbox(lua_State *L, cl_msg *m) {
    cl_msg **b = lua_newuserdatauv(L, sizeof *b, 0);
    *b = m;
    if (luaL_newmetatable(L, MSGBOX)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &msgbox_key);
    }
    lua_setmetatable(L, -2);
    return b;
}

cl_msg *cl_msg_take(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TUSERDATA || !lua_checkstack(L, 2) || !lua_getmetatable(L, idx)) return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &msgbox_key);
    int is_box = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!is_box) return NULL;
    cl_msg **b = lua_touserdata(L, idx);
    cl_msg *m = *b;
    *b = NULL;
    return m;
}

static int pushbox_p(lua_State *L) {
    cl_msg **b = codec_newbox(L, NULL);
    *b = lua_touserdata(L, 1);
    return 1;
}

int cl_msg_pushbox(lua_State *L, cl_msg *m) {
    if (!lua_checkstack(L, 3)) { cl_msg_free(m); return -1; }
    lua_pushcfunction(L, pushbox_p);
    lua_pushlightuserdata(L, m);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        cl_msg_free(m);
        return -1;
    }
    return 0;
}

/* ---- encoding */

/* Values already encoded, by address: tables (lua_topointer) and strings (their
   bytes, which are the same for the same string object: short strings are
   interned), with their number and where their tag is, so that a value met again
   becomes a back reference and its first copy is marked "kept". Open addressing
   in C: the encoder allocates nothing on the Lua side, so it never raises. The
   map lives per thread and is emptied by bumping `gen` (a slot is used only when
   its gen is the map's), so an encode neither allocates nor clears it. */
typedef struct { const void *p; uint32_t idx, gen; size_t off; } seen_ent;
typedef struct { seen_ent *v; size_t cap, n; uint32_t gen; } seen_map;
#define SEEN_KEEP ((size_t)1 << 16) /* a per-thread map larger than this is freed after use */

static inline size_t seen_hash(const void *p, size_t cap) {
    return (size_t)(((uintptr_t)p >> 3) * 0x9E3779B97F4A7C15ull >> 32) & (cap - 1);
}

static inline seen_ent *seen_find(seen_map *m, const void *p) {
    if (!m->n) return NULL;
    for (size_t i = seen_hash(p, m->cap); m->v[i].gen == m->gen; i = (i + 1) & (m->cap - 1))
        if (m->v[i].p == p) return &m->v[i];
    return NULL;
}

__attribute__((noinline)) static int seen_grow(seen_map *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    seen_ent *v = calloc(cap, sizeof *v); /* gen 0: empty (a map's gen is >= 1) */
    if (!v) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->v[i].gen != m->gen) continue;
        size_t j = seen_hash(m->v[i].p, cap);
        while (v[j].gen == m->gen) j = (j + 1) & (cap - 1);
        v[j] = m->v[i];
    }
    free(m->v);
    m->v = v;
    m->cap = cap;
    return 0;
}

static inline int seen_add(seen_map *m, const void *p, uint32_t idx, size_t off) {
    if (2 * (m->n + 1) > m->cap && seen_grow(m)) return -1;
    size_t j = seen_hash(p, m->cap);
    while (m->v[j].gen == m->gen) j = (j + 1) & (m->cap - 1);
    m->v[j] = (seen_ent){ p, idx, m->gen, off };
    m->n++;
    return 0;
}

static void seen_reset(seen_map *m) {
    m->n = 0;
    if (m->cap > SEEN_KEEP) { free(m->v); m->v = NULL; m->cap = 0; }
    if (++m->gen == 0) { /* wrapped: old slots could look current */
        if (m->v) memset(m->v, 0, m->cap * sizeof *m->v);
        m->gen = 1;
    }
}

/* Per OS thread: the seen map and the buffer of dumps, freed when the thread
   exits (worker threads come and go). `busy` guards against reuse while an
   encode is running on this thread (none nests today; then a private map). */
typedef struct { seen_map seen; cl_msg scratch; int busy; } codec_tls;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static _Thread_local codec_tls *tls;

static void tls_free(void *p) {
    codec_tls *t = p;
    free(t->seen.v);
    free(t->scratch.data);
    free(t);
}
static void tls_init(void) { pthread_key_create(&tls_key, tls_free); }

static codec_tls *get_tls(void) {
    if (tls) return tls;
    pthread_once(&tls_once, tls_init);
    codec_tls *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->seen.gen = 1;
    if (pthread_setspecific(tls_key, t)) { free(t); return NULL; }
    return tls = t;
}

typedef struct {
    lua_State *L;
    cl_msg *m;
    seen_map *seen;
    lua_Integer ntables, nstrings;
    int handles;     /* Universal objects allowed (same process) */
    int depth;
    /* per level, the key being encoded: its stack index (> 0), 0 while encoding a
       key itself, or -i for index i of the array part (not pushed: saves calls) */
    lua_Integer keys[CODEC_MAXDEPTH + 1];
    const char *what; /* "argument", "result", "item", "value" */
    int pos;
    char err[256];
} enc_t;

/* Describes where the failing value sits: "argument #2 field 'x'[3]: userdata". */
__attribute__((noinline, cold, format(printf, 2, 3))) static void enc_fail(enc_t *e, const char *fmt, ...) {
    char path[200] = "";
    size_t n = 0;
    for (int d = 1; d <= e->depth && n < sizeof path - 40; d++) {
        lua_Integer kk = e->keys[d];
        if (kk == 0) { n += (size_t)snprintf(path + n, sizeof path - n, " key"); break; }
        if (kk < 0) {
            n += (size_t)snprintf(path + n, sizeof path - n, "[%lld]", (long long)-kk);
            if (n >= sizeof path) n = sizeof path - 1;
            continue;
        }
        int k = (int)kk;
        switch (lua_type(e->L, k)) {
        case LUA_TSTRING: {
            size_t len;
            const char *s = lua_tolstring(e->L, k, &len);
            n += (size_t)snprintf(path + n, sizeof path - n, " field '%.*s'", (int)(len > 32 ? 32 : len), s);
            break;
        }
        case LUA_TNUMBER:
            if (lua_isinteger(e->L, k))
                n += (size_t)snprintf(path + n, sizeof path - n, "[%lld]", (long long)lua_tointeger(e->L, k));
            else
                n += (size_t)snprintf(path + n, sizeof path - n, "[%g]", lua_tonumber(e->L, k));
            break;
        default:
            n += (size_t)snprintf(path + n, sizeof path - n, "[%s]", lua_typename(e->L, lua_type(e->L, k)));
        }
        if (n >= sizeof path) n = sizeof path - 1;
    }
    char detail[120];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (e->pos > 0)
        snprintf(e->err, sizeof e->err, "%s #%d%s: %s", e->what, e->pos, path, detail);
    else
        snprintf(e->err, sizeof e->err, "%s%s: %s", e->what, path, detail);
}

static int enc_value(enc_t *e, int idx, int type);

__attribute__((noinline, cold)) static int enc_mem(enc_t *e, int rc) {
    if (rc == -2) enc_fail(e, "message too large (limit %d MiB)", (int)(CODEC_MAXSIZE >> 20));
    else enc_fail(e, "not enough memory");
    return -1;
}

static inline int enc_string(enc_t *e, int idx) {
    cl_msg *m = e->m;
    int rc;
    size_t len;
    const char *s = lua_tolstring(e->L, idx, &len);
    if (len >= 256) {
        uint32_t n = (uint32_t)len;
        rc = len > CODEC_MAXSIZE ? -2 : reserve(m, len + 5);
        if (rc) return enc_mem(e, rc);
        m->data[m->len] = T_STR;
        memcpy(m->data + m->len + 1, &n, 4);
        memcpy(m->data + m->len + 5, s, len);
        m->len += len + 5;
        return 0;
    }
    /* a short string met again (a repeated key, mostly): a back reference, which
       the decoder pushes without hashing and interning the bytes again */
    seen_ent *se = seen_find(e->seen, s);
    if (se) {
        m->data[se->off] = T_KSSTR;
        rc = put_tag_u32(m, T_SREF, se->idx);
        return rc ? enc_mem(e, rc) : 0;
    }
    if (e->nstrings >= (lua_Integer)UINT32_MAX) { enc_fail(e, "too many strings"); return -1; }
    rc = reserve(m, len + 2);
    if (!rc && seen_add(e->seen, s, (uint32_t)e->nstrings++, m->len)) rc = -1;
    if (rc) return enc_mem(e, rc);
    m->data[m->len] = T_SSTR;
    m->data[m->len + 1] = (char)len;
    memcpy(m->data + m->len + 2, s, len);
    m->len += len + 2;
    return 0;
}

/* Encodes the value at idx, of type `type`, called with the type known (strings,
   the most common keys and values, skip the switch). */
static inline int enc_any(enc_t *e, int idx, int type) {
    return type == LUA_TSTRING ? enc_string(e, idx) : enc_value(e, idx, type);
}

__attribute__((noinline)) static int enc_table(enc_t *e, int idx) {
    lua_State *L = e->L;
    cl_msg *m = e->m;
    /* shared or cyclic: a back reference to its number */
    const void *tp = lua_topointer(L, idx);
    seen_ent *se = seen_find(e->seen, tp);
    if (se) {
        m->data[se->off] = T_STABLE;
        int rc = put_tag_u32(m, T_REF, se->idx);
        return rc ? enc_mem(e, rc) : 0;
    }
    if (e->depth >= CODEC_MAXDEPTH) {
        enc_fail(e, "tables nested more than %d deep", CODEC_MAXDEPTH);
        return -1;
    }
    if (e->ntables >= (lua_Integer)UINT32_MAX) { enc_fail(e, "too many tables"); return -1; }
    if (seen_add(e->seen, tp, (uint32_t)e->ntables++, m->len)) return enc_mem(e, -1);
    /* One traversal: lua_next yields the array part first, in order, so the run
       of keys 1, 2, 3... it starts with is the array section; the rest are
       pairs. Both counts are patched into the header at the end. */
    size_t head = m->len;
    int rc = put_tag_u32(m, T_TABLE, 0);
    if (!rc) rc = reserve(m, 4);
    if (rc) return enc_mem(e, rc);
    m->len += 4;
    if (!lua_checkstack(L, 6)) { enc_fail(e, "not enough stack"); return -1; }
    e->depth++;
    int level = e->depth;
    int k = lua_gettop(L) + 1;
    uint32_t narr = 0, nhash = 0;
    int in_array = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (in_array) {
            if (lua_isinteger(L, k) && lua_tointeger(L, k) == (lua_Integer)narr + 1 && narr < UINT32_MAX) {
                e->keys[level] = -((lua_Integer)narr + 1);
                if (enc_any(e, k + 1, lua_type(L, k + 1))) return -1;
                narr++;
                lua_pop(L, 1);
                continue;
            }
            in_array = 0;
        }
        if (nhash == UINT32_MAX) { enc_fail(e, "table too large"); return -1; }
        e->keys[level] = 0;
        if (enc_any(e, k, lua_type(L, k))) return -1;
        e->keys[level] = k;
        if (enc_any(e, k + 1, lua_type(L, k + 1))) return -1;
        nhash++;
        lua_pop(L, 1);
    }
    e->depth--;
    memcpy(m->data + head + 1, &narr, 4);
    memcpy(m->data + head + 5, &nhash, 4);
    return 0;
}

static int enc_value(enc_t *e, int idx, int type) {
    lua_State *L = e->L;
    cl_msg *m = e->m;
    int rc = 0;
    switch (type) {
    case LUA_TNIL: rc = put_u8(m, T_NIL); break;
    case LUA_TBOOLEAN: rc = put_u8(m, lua_toboolean(L, idx) ? T_TRUE : T_FALSE); break;
    case LUA_TNUMBER:
        rc = reserve(m, 9);
        if (rc) break;
        if (lua_isinteger(L, idx)) {
            lua_Integer i = lua_tointeger(L, idx);
            if (i >= INT32_MIN && i <= INT32_MAX) {
                int32_t v = (int32_t)i;
                m->data[m->len] = T_INT32;
                memcpy(m->data + m->len + 1, &v, 4);
                m->len += 5;
            } else {
                int64_t v = (int64_t)i;
                m->data[m->len] = T_INT64;
                memcpy(m->data + m->len + 1, &v, 8);
                m->len += 9;
            }
        } else {
            double d = lua_tonumber(L, idx);
            m->data[m->len] = T_DOUBLE;
            memcpy(m->data + m->len + 1, &d, 8);
            m->len += 9;
        }
        break;
    case LUA_TSTRING:
        return enc_string(e, idx);
    case LUA_TTABLE:
        return enc_table(e, idx);
    case LUA_TUSERDATA: {
        cl_uobj *o = cl_uobj_check(L, idx);
        if (o) {
            if (!e->handles) {
                enc_fail(e, "%s cannot leave its process",
                         cl_uobj_kind(o) == CL_UQUEUE ? "UniversalQueue" : "UniversalEvent");
                return -1;
            }
            if (cl_msg_put_handle(m, o)) rc = -1;
            break;
        }
        enc_fail(e, "userdata");
        return -1;
    }
    case LUA_TFUNCTION: {
        int up = !lua_iscfunction(L, idx) && lua_getupvalue(L, idx, 1) != NULL;
        if (up) lua_pop(L, 1);
        enc_fail(e, up ? "function with upvalues" : "function");
        return -1;
    }
    default:
        enc_fail(e, "%s", lua_typename(L, type));
        return -1;
    }
    return rc ? enc_mem(e, rc) : 0;
}

/* Encodes the values at stack indices first..last into m. `what` and `pos0` name
   positions in errors ("argument", 2: the first value is argument #2; pos0 0:
   no number). Returns 0, or -1 with the message pushed. May raise (memory). */
int codec_encode_range(lua_State *L, cl_msg *m, int first, int last, const char *what, int pos0,
                       int handles) {
    enc_t e;
    e.L = L;
    e.m = m;
    codec_tls *t = get_tls();
    seen_map own = { NULL, 0, 0, 1 };
    int shared = t && !t->busy;
    e.seen = shared ? &t->seen : &own;
    if (shared) t->busy = 1;
    e.ntables = e.nstrings = 0;
    e.what = what;
    e.handles = handles;
    e.err[0] = 0;
    int top = lua_gettop(L), rc = 0;
    for (int i = first; i <= last && rc == 0; i++) {
        e.pos = pos0 ? pos0 + (i - first) : 0;
        e.depth = 0;
        rc = enc_value(&e, i, lua_type(L, i));
    }
    if (shared) {
        seen_reset(&t->seen);
        t->busy = 0;
    } else {
        free(own.v);
    }
    lua_settop(L, top);
    if (rc) lua_pushstring(L, e.err);
    return rc;
}

/* ---- decoding */

#define DEC_SLOTS 16 /* kept strings held in stack slots (the rest in a table) */

typedef struct {
    lua_State *L;
    const unsigned char *p, *end;
    cl_msg *m;    /* for handles (NULL: none allowed) */
    int tables;   /* stack index of the number -> shared table list, 0 until needed */
    int strs;     /* the same for kept strings past the first DEC_SLOTS */
    int base;     /* where those lists go (base, base + 1), then the slots: below the values */
    lua_Integer ntables, nstrings;
    int depth;
    /* The first DEC_SLOTS kept strings sit in stack slots base + 2...: fetching one
       is a lua_pushvalue. kept[i] is the number of the string in slot i. */
    int nkept, nslots; /* nslots: DEC_SLOTS, or 0 (see codec_decode) */
    uint32_t kept[DEC_SLOTS];
} dec_t;

__attribute__((noreturn, cold, noinline)) static void corrupt(dec_t *d, const char *why) {
    luaL_error(d->L, "corrupt message: %s", why);
    abort(); /* not reached: luaL_error does not return */
}

static inline void need(dec_t *d, size_t n) {
    if ((size_t)(d->end - d->p) < n) corrupt(d, "truncated");
}

static uint32_t get_u32(dec_t *d) {
    need(d, 4);
    uint32_t v;
    memcpy(&v, d->p, 4);
    d->p += 4;
    return v;
}

static int dec_value(dec_t *d);

__attribute__((noinline)) static void dec_table(dec_t *d, int shared) {
    lua_State *L = d->L;
    uint32_t narr = get_u32(d), nhash = get_u32(d);
    size_t left = (size_t)(d->end - d->p);
    /* every value takes at least one byte: bounds what may be preallocated */
    if (narr > left || nhash > left / 2) corrupt(d, "table larger than the message");
    if (d->depth >= CODEC_MAXDEPTH) corrupt(d, "tables nested too deep");
    if (!lua_checkstack(L, 6)) corrupt(d, "stack overflow"); /* table, key, value, a kept string's copy and list */
    d->depth++;
    lua_createtable(L, (int)narr, (int)nhash);
    d->ntables++;
    if (shared) {
        if (!d->tables) { /* made on the first shared table, in the slot kept for it */
            lua_newtable(L);
            lua_replace(L, d->base);
            d->tables = d->base;
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, d->tables, d->ntables);
    }
    int t = lua_gettop(L);
    for (uint32_t i = 1; i <= narr; i++) {
        dec_value(d);
        lua_rawseti(L, t, (lua_Integer)i);
    }
    for (uint32_t i = 0; i < nhash; i++) {
        int tag = dec_value(d);
        if (tag == T_NIL) corrupt(d, "nil key");
        if (tag == T_DOUBLE && isnan(lua_tonumber(L, -1))) corrupt(d, "NaN key");
        dec_value(d);
        lua_rawset(L, t);
    }
    d->depth--;
}

/* Pushes the next value; returns its tag. */
static int dec_value(dec_t *d) {
    lua_State *L = d->L;
    need(d, 1);
    unsigned char tag = *d->p++;
    switch (tag) {
    case T_NIL: lua_pushnil(L); break;
    case T_FALSE: lua_pushboolean(L, 0); break;
    case T_TRUE: lua_pushboolean(L, 1); break;
    case T_INT64: {
        need(d, 8);
        int64_t v;
        memcpy(&v, d->p, 8);
        d->p += 8;
        lua_pushinteger(L, (lua_Integer)v);
        break;
    }
    case T_INT32: {
        need(d, 4);
        int32_t v;
        memcpy(&v, d->p, 4);
        d->p += 4;
        lua_pushinteger(L, v);
        break;
    }
    case T_DOUBLE: {
        need(d, 8);
        double v;
        memcpy(&v, d->p, 8);
        d->p += 8;
        lua_pushnumber(L, v);
        break;
    }
    case T_STR: {
        size_t n = get_u32(d);
        need(d, n);
        lua_pushlstring(L, (const char *)d->p, n);
        d->p += n;
        break;
    }
    case T_SSTR:
    case T_KSSTR: {
        need(d, 1);
        size_t n = *d->p++;
        need(d, n);
        lua_pushlstring(L, (const char *)d->p, n);
        d->p += n;
        d->nstrings++;
        if (tag == T_KSSTR) {
            lua_pushvalue(L, -1);
            if (d->nkept < d->nslots) {
                d->kept[d->nkept] = (uint32_t)(d->nstrings - 1);
                lua_replace(L, d->base + 2 + d->nkept++);
            } else {
                if (!d->strs) {
                    lua_newtable(L);
                    lua_replace(L, d->base + 1);
                    d->strs = d->base + 1;
                }
                lua_rawseti(L, d->strs, d->nstrings);
            }
        }
        break;
    }
    case T_SREF: {
        uint32_t r = get_u32(d);
        for (int i = 0; i < d->nkept; i++)
            if (d->kept[i] == r) {
                lua_pushvalue(L, d->base + 2 + i);
                return tag;
            }
        if ((lua_Integer)r >= d->nstrings || !d->strs ||
            lua_rawgeti(L, d->strs, (lua_Integer)r + 1) != LUA_TSTRING)
            corrupt(d, "bad string reference");
        break;
    }
    case T_TABLE: dec_table(d, 0); break;
    case T_STABLE: dec_table(d, 1); break;
    case T_REF: {
        uint32_t r = get_u32(d);
        if ((lua_Integer)r >= d->ntables || !d->tables ||
            lua_rawgeti(L, d->tables, (lua_Integer)r + 1) != LUA_TTABLE)
            corrupt(d, "bad table reference");
        break;
    }
    case T_HANDLE: {
        need(d, 5);
        int kind = *d->p++;
        uint32_t i = get_u32(d);
        if (!d->m || (int64_t)i >= d->m->nhandles || cl_uobj_kind(d->m->handles[i]) != kind)
            corrupt(d, "bad handle");
        if (cl_uobj_push(L, d->m->handles[i])) luaL_error(L, "not enough memory");
        break;
    }
    default:
        corrupt(d, "unknown tag");
    }
    return tag;
}

/* Pushes every value of the bytes p..p+len; returns their count. Raises on
   corrupt input or memory. `m` supplies handles (NULL: bytes from outside). */
int codec_decode(lua_State *L, const char *p, size_t len, cl_msg *m) {
    dec_t d = { L, (const unsigned char *)p, (const unsigned char *)p + len, m, 0, 0, 0, 0, 0, 0, 0, 0 };
    /* The slots of the shared table and kept string lists, and of kept strings.
       Those are only worth making if the message has kept strings, whose first
       one comes early: no byte T_KSSTR in its first 4 KiB (most worker calls and
       results), no slots; a kept string found anyway goes to the list. */
    d.nslots = memchr(p, T_KSSTR, len < 4096 ? len : 4096) ? DEC_SLOTS : 0;
    if (!lua_checkstack(L, 2 + d.nslots + 3)) corrupt(&d, "too many values");
    d.base = lua_gettop(L) + 1;
    lua_settop(L, d.base + 1 + d.nslots);
    int n = 0;
    while (d.p < d.end) {
        if (!lua_checkstack(L, 4)) corrupt(&d, "too many values");
        dec_value(&d);
        n++;
    }
    /* the values down over the lists and slots (cheaper than lua_rotate for few) */
    for (int i = 0; i < n; i++) lua_copy(L, d.base + 2 + d.nslots + i, d.base + i);
    lua_settop(L, d.base + n - 1);
    return n;
}

/* ---- the Lua module curio.ccodec */

/* encode(...) -> box | nil, message: values as a message box (handles allowed). */
static int l_encode(lua_State *L) {
    int n = lua_gettop(L);
    cl_msg *m = cl_msg_new();
    if (!m) return luaL_error(L, "not enough memory");
    codec_newbox(L, m);
    lua_insert(L, 1);
    if (codec_encode_range(L, m, 2, n + 1, "value", n > 1 ? 1 : 0, 1)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_settop(L, 1);
    return 1;
}

/* decode(box) -> values... (the box is emptied) */
static int l_decode(lua_State *L) {
    cl_msg **b = luaL_checkudata(L, 1, MSGBOX);
    if (!*b) return luaL_error(L, "message already decoded");
    cl_msg *m = *b;
    int n = codec_decode(L, m->data, m->len, m);
    *b = NULL;
    cl_msg_free(m);
    return n;
}

/* dumps(...) -> string | nil, message: values as bytes (no Universal objects). */
/* The encoder never raises, so dumps may use one buffer per thread, kept between
   calls (up to 4 MiB). */
static int l_dumps(lua_State *L) {
    int n = lua_gettop(L);
    codec_tls *t = get_tls();
    cl_msg own = { 0 };
    cl_msg *m = t ? &t->scratch : &own;
    m->len = 0;
    int rc = codec_encode_range(L, m, 1, n, "value", n > 1 ? 1 : 0, 0);
    if (!rc) lua_pushlstring(L, m->data ? m->data : "", m->len);
    if (m->cap > ((size_t)4 << 20) || m == &own) { free(m->data); m->data = NULL; m->cap = 0; }
    m->len = 0;
    if (rc) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

/* loads(s) -> values... (raises "corrupt message: ..." on bad bytes) */
static int l_loads(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    return codec_decode(L, s, len, NULL);
}

int cl_open_codec(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"encode", l_encode}, {"decode", l_decode}, {"dumps", l_dumps}, {"loads", l_loads},
        {NULL, NULL},
    };
    luaL_newlib(L, fns);
    lua_pushinteger(L, CODEC_MAXDEPTH);
    lua_setfield(L, -2, "MAXDEPTH");
    lua_pushinteger(L, (lua_Integer)CODEC_MAXSIZE);
    lua_setfield(L, -2, "MAXSIZE");
    return 1;
}
