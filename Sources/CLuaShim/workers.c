/* Worker Lua states: each pool thread that runs a Lua job keeps its own state,
   opened like the main one (standard libraries, the embedded curio modules, the
   main state's package.path/cpath), reused between calls and closed when the
   thread exits. A call arrives as an encoded message (mode, function, args...)
   and leaves as one (status, values...). Everything here is C: no Lua error ever
   crosses a Swift frame. */
#include "CLuaShim.h"
#include "cl_workers.h"
#include "codec.h"
#include "curio_ops.h"
#include <lauxlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MODE_BYTECODE = 1, MODE_NAME = 2 };
/* Outcome statuses (first value of a result message). */
enum { ST_OK = 0, ST_ERROR = 1, ST_TRANSFER = 2, ST_NOMEM = 3 };
#define FN_CACHE_MAX 256

/* ---- package.path/cpath of the main state, copied into worker states */

static pthread_mutex_t config_mu = PTHREAD_MUTEX_INITIALIZER;
static char *config_path, *config_cpath;
static atomic_int config_gen;
/* In a worker process: results may not hold Universal objects (they stay behind). */
static int process_mode;

void cl_worker_set_process_mode(void) { process_mode = 1; }

/* A worker thread's state and its host record. */
typedef struct {
    lua_State *L;
    curio_host host;
    int gen;
} worker;

static pthread_key_t worker_key;
static pthread_once_t worker_once = PTHREAD_ONCE_INIT;

static void worker_close(worker *w) {
    if (!w) return;
    if (w->L) cl_close(w->L);
    free(w);
}

static void worker_destructor(void *p) { worker_close(p); }
static void make_key(void) { pthread_key_create(&worker_key, worker_destructor); }

/* Kernel calls in a worker state: there is no kernel and no task. */
static int worker_kcall(void *ctx, lua_State *L, int op, int nargs) {
    (void)nargs;
    worker *w = ctx;
    switch (op) {
    case CurioKCall_current: lua_pushnil(L); return 1;
    case CurioKCall_running: lua_pushboolean(L, 0); return 1;
    case CurioKCall_clock: {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        lua_pushnumber(L, (double)ts.tv_sec + ts.tv_nsec / 1e9);
        return 1;
    }
    }
    snprintf(w->host.errbuf, sizeof w->host.errbuf,
             "NotInTask: must be called inside a curio task (this is a worker thread)");
    return -1;
}

/* spawn in a worker state: -2 (no current task), which core.spawn raises as NotInTask */
static int64_t worker_spawn(void *ctx, int ref, int daemon, int main, int64_t *parent) {
    (void)ctx; (void)ref; (void)daemon; (void)main; (void)parent;
    return -2;
}

static int setup_p(lua_State *L) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "curio.worker");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "curio.worker.fns");
    /* the curio library, so its raiser turns blocking calls into NotInTask */
    lua_getglobal(L, "require");
    lua_pushstring(L, "curio");
    lua_call(L, 1, 0);
    return 0;
}

static worker *worker_state(void) {
    pthread_once(&worker_once, make_key);
    worker *w = pthread_getspecific(worker_key);
    if (w && w->L) return w;
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w) return NULL;
        pthread_setspecific(worker_key, w);
    }
    memset(&w->host, 0, sizeof w->host);
    w->host.ctx = w;
    w->host.kcall = worker_kcall;
    w->host.spawn = worker_spawn;
    w->L = cl_newstate(&w->host, 0);
    w->gen = -1;
    if (!w->L) return NULL;
    lua_pushcfunction(w->L, setup_p);
    if (lua_pcall(w->L, 0, 0, 0) != LUA_OK) {
        cl_close(w->L);
        w->L = NULL;
        return NULL;
    }
    return w;
}

void cl_worker_exit_thread(void) {
    pthread_once(&worker_once, make_key);
    worker *w = pthread_getspecific(worker_key);
    pthread_setspecific(worker_key, NULL);
    worker_close(w);
}

static int apply_config_p(lua_State *L) {
    lua_getglobal(L, "package");
    if (lua_touserdata(L, 1)) { lua_pushstring(L, lua_touserdata(L, 1)); lua_setfield(L, -2, "path"); }
    if (lua_touserdata(L, 2)) { lua_pushstring(L, lua_touserdata(L, 2)); lua_setfield(L, -2, "cpath"); }
    return 0;
}

/* ---- running a call in the worker state */

static int msgh(lua_State *L) {
    /* message: tostring(error) (curio errors give "Kind: message"); traceback */
    luaL_tolstring(L, 1, NULL);
    luaL_traceback(L, L, NULL, 1);
    lua_createtable(L, 2, 0);
    lua_insert(L, -3);
    lua_rawseti(L, -3, 2);
    lua_rawseti(L, -2, 1);
    return 1;
}

/* Resolves "module.function" with require. */
static void resolve_name(lua_State *L, int idx) {
    size_t len;
    const char *name = lua_tolstring(L, idx, &len);
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name || dot[1] == 0)
        luaL_error(L, "bad function name '%s' (expected 'module.function')", name);
    lua_getglobal(L, "require");
    lua_pushlstring(L, name, (size_t)(dot - name));
    lua_call(L, 1, 1);
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_error(L, "module '%s' returned %s, not a table", lua_tostring(L, -2), luaL_typename(L, -1));
    if (lua_getfield(L, -1, dot + 1) != LUA_TFUNCTION)
        luaL_error(L, "'%s' is not a function (got %s)", name, luaL_typename(L, -1));
    lua_remove(L, -2);
}

/* Loads bytecode (cached by its bytes) and binds every _ENV upvalue to the globals. */
static void load_bytecode(lua_State *L, int idx) {
    lua_getfield(L, LUA_REGISTRYINDEX, "curio.worker.fns");
    int cache = lua_gettop(L);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, cache) == LUA_TFUNCTION) { lua_remove(L, cache); return; }
    lua_pop(L, 1);
    size_t len;
    const char *bc = lua_tolstring(L, idx, &len);
    if (luaL_loadbufferx(L, bc, len, "=worker", "b") != LUA_OK) lua_error(L);
    for (int i = 1;; i++) {
        const char *up = lua_getupvalue(L, -1, i);
        if (!up) break;
        lua_pop(L, 1);
        if (strcmp(up, "_ENV") == 0) {
            lua_pushglobaltable(L);
            lua_setupvalue(L, -2, i);
        }
    }
    /* a bounded cache: start afresh when full */
    lua_Integer n = 0;
    if (lua_getfield(L, cache, "#") == LUA_TNUMBER) n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (n >= FN_CACHE_MAX) {
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "curio.worker.fns");
        lua_replace(L, cache);
        n = 0;
    }
    lua_pushinteger(L, n + 1);
    lua_setfield(L, cache, "#");
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, cache);
    lua_remove(L, cache);
}

/* call_p(in, outp): decodes the call, runs it under msgh and encodes the outcome
   into a new message stored in *outp. */
static int call_p(lua_State *L) {
    cl_msg *in = lua_touserdata(L, 1);
    cl_msg **outp = lua_touserdata(L, 2);
    lua_settop(L, 0);
    lua_pushcfunction(L, msgh);                         /* 1 */
    int n = codec_decode(L, in->data, in->len, in);      /* 2: mode, 3: fn, args */
    if (n < 2) return luaL_error(L, "corrupt call message");
    int mode = (int)lua_tointeger(L, 2);
    if (mode == MODE_NAME) resolve_name(L, 3);
    else load_bytecode(L, 3);
    lua_replace(L, 3);
    lua_remove(L, 2);                                    /* 1: msgh, 2: fn, args */
    cl_msg *out = cl_msg_new();
    if (!out) return luaL_error(L, "not enough memory");
    *outp = out;
    int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 1);
    if (status == LUA_ERRMEM) return luaL_error(L, "not enough memory"); /* rethrown as ERRMEM below */
    if (status != LUA_OK) {
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
        } else {
            luaL_tolstring(L, -1, NULL);
            lua_pushliteral(L, "");
        }
        lua_pushinteger(L, ST_ERROR);
        lua_insert(L, -3);
        if (codec_encode_range(L, out, lua_gettop(L) - 2, lua_gettop(L), "error", 0, 0))
            return lua_error(L);
        return 0;
    }
    int nres = lua_gettop(L) - 1; /* results at 2..nres+1 */
    if (cl_msg_put_int(out, ST_OK)) return luaL_error(L, "not enough memory");
    if (codec_encode_range(L, out, 2, nres + 1, "result", 1, !process_mode)) {
        const char *msg = lua_tostring(L, -1);
        out->len = 0;
        for (int i = 0; i < out->nhandles; i++) cl_uobj_release(out->handles[i]);
        out->nhandles = 0;
        if (cl_msg_put_int(out, ST_TRANSFER) || cl_msg_put_string(out, msg, strlen(msg)))
            return luaL_error(L, "not enough memory");
    }
    return 0;
}

/* An outcome message built without Lua (when the state itself failed). */
static cl_msg *failure(int status, const char *message) {
    cl_msg *m = cl_msg_new();
    if (!m) return NULL;
    if (cl_msg_put_int(m, status) || cl_msg_put_string(m, message, strlen(message))) {
        cl_msg_free(m);
        return NULL;
    }
    return m;
}

cl_msg *cl_worker_call(cl_msg *in) {
    worker *w = worker_state();
    if (!w) {
        cl_msg_free(in);
        return failure(ST_NOMEM, "cannot create a worker Lua state (not enough memory)");
    }
    lua_State *L = w->L;
    int gen = atomic_load(&config_gen);
    if (gen != w->gen) {
        pthread_mutex_lock(&config_mu);
        lua_pushcfunction(L, apply_config_p);
        lua_pushlightuserdata(L, config_path);
        lua_pushlightuserdata(L, config_cpath);
        int rc = lua_pcall(L, 2, 0, 0);
        pthread_mutex_unlock(&config_mu);
        if (rc != LUA_OK) lua_pop(L, 1);
        else w->gen = gen;
    }
    cl_msg *out = NULL;
    lua_pushcfunction(L, call_p);
    lua_pushlightuserdata(L, in);
    lua_pushlightuserdata(L, &out);
    int status = lua_pcall(L, 2, 0, 0);
    cl_msg_free(in);
    if (status == LUA_OK) {
        lua_settop(L, 0);
        return out;
    }
    cl_msg_free(out);
    char buf[512];
    const char *m = lua_tostring(L, -1);
    snprintf(buf, sizeof buf, "%s", m ? m : "(error object)");
    lua_settop(L, 0);
    int nomem = status == LUA_ERRMEM || strstr(buf, "not enough memory") != NULL;
    if (nomem) { /* the state may be in a bad way: a fresh one next time */
        cl_close(w->L);
        w->L = NULL;
        return failure(ST_NOMEM, "worker ran out of memory (its Lua state was discarded)");
    }
    return failure(ST_ERROR, buf);
}

/* ---- curio.cworkers: the calling side */

/* As string.dump: the buffer starts on the first write, above the function. */
typedef struct { int init; luaL_Buffer b; } dumpstate;

static int writer(lua_State *L, const void *p, size_t sz, void *ud) {
    dumpstate *d = ud;
    if (!d->init) { d->init = 1; luaL_buffinit(L, &d->b); }
    luaL_addlstring(&d->b, p, sz);
    return 0;
}

/* The bytecode of fn (cached per function in a weak table). */
static void push_bytecode(lua_State *L, int fn) {
    if (lua_getfield(L, LUA_REGISTRYINDEX, "curio.dumps") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "k");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "curio.dumps");
    }
    lua_pushvalue(L, fn);
    if (lua_rawget(L, -2) == LUA_TSTRING) { lua_remove(L, -2); return; }
    lua_pop(L, 1);
    dumpstate d;
    d.init = 0;
    lua_pushvalue(L, fn);
    lua_dump(L, writer, &d, 0);
    if (!d.init) luaL_buffinit(L, &d.b);
    luaL_pushresult(&d.b);
    lua_remove(L, -2);              /* the fn copy */
    lua_pushvalue(L, fn);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_remove(L, -2);              /* the cache */
}

/* pack(fname, fn, ...) -> box | nil, message: the call message. fn is a Lua
   function whose only upvalues are _ENV, or a "module.function" string. */
static int pack(lua_State *L, int handles) {
    const char *fname = luaL_checkstring(L, 1);
    int n = lua_gettop(L);
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *s = lua_tostring(L, 2);
        const char *dot = strrchr(s, '.');
        if (!dot || dot == s || dot[1] == 0)
            return luaL_error(L, "bad argument #1 to '%s' ('module.function' expected, got '%s')", fname, s);
        lua_pushinteger(L, MODE_NAME);
        lua_pushvalue(L, 2);
    } else if (lua_type(L, 2) == LUA_TFUNCTION) {
        if (lua_iscfunction(L, 2)) {
            lua_pushnil(L);
            lua_pushliteral(L, "argument #1: C function (pass a Lua function or a 'module.function' name)");
            return 2;
        }
        for (int i = 1;; i++) {
            const char *up = lua_getupvalue(L, 2, i);
            if (!up) break;
            lua_pop(L, 1);
            if (strcmp(up, "_ENV") != 0) {
                lua_pushnil(L);
                lua_pushfstring(L, "argument #1: function with upvalues ('%s'); only globals may be used", up);
                return 2;
            }
        }
        lua_pushinteger(L, MODE_BYTECODE);
        push_bytecode(L, 2);
    } else {
        return luaL_error(L, "bad argument #1 to '%s' (function or string expected, got %s)", fname,
                          luaL_typename(L, 2));
    }
    lua_replace(L, 2);
    lua_replace(L, 1);   /* 1: mode, 2: fn payload, 3..n: args */
    cl_msg *m = cl_msg_new();
    if (!m) return luaL_error(L, "not enough memory");
    codec_newbox(L, m);
    lua_insert(L, 1);
    if (codec_encode_range(L, m, 2, 3, "function", 0, 0) ||
        codec_encode_range(L, m, 4, n + 1, "argument", 2, handles)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_settop(L, 1);
    return 1;
}

static int l_pack(lua_State *L) { return pack(L, 1); }
/* pack_process(fname, fn, ...): the same, for a worker process (no Universal objects) */
static int l_pack_process(lua_State *L) { return pack(L, 0); }

/* pack_args(...) -> box | nil, message: arguments only (call_host's, from #2) */
static int l_pack_args(lua_State *L) {
    int n = lua_gettop(L);
    cl_msg *m = cl_msg_new();
    if (!m) return luaL_error(L, "not enough memory");
    codec_newbox(L, m);
    lua_insert(L, 1);
    if (codec_encode_range(L, m, 2, n + 1, "argument", 2, 1)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_settop(L, 1);
    return 1;
}

/* unpack(box) -> status, values...: the outcome of a call */
static int l_unpack(lua_State *L) {
    cl_msg **b = luaL_checkudata(L, 1, "curio.Msg");
    cl_msg *m = *b;
    if (!m) return luaL_error(L, "empty message");
    int n = codec_decode(L, m->data, m->len, m);
    *b = NULL;
    cl_msg_free(m);
    return n;
}

int cl_worker_configure(const char *p, const char *c) {
    char *np = strdup(p), *nc = strdup(c);
    if (!np || !nc) { free(np); free(nc); return -1; }
    pthread_mutex_lock(&config_mu);
    free(config_path);
    free(config_cpath);
    config_path = np;
    config_cpath = nc;
    atomic_fetch_add(&config_gen, 1);
    pthread_mutex_unlock(&config_mu);
    return 0;
}

/* configure(path, cpath): the package paths new calls use in worker states */
static int l_configure(lua_State *L) {
    const char *p = luaL_checkstring(L, 1), *c = luaL_checkstring(L, 2);
    if (cl_worker_configure(p, c)) return luaL_error(L, "not enough memory");
    return 0;
}

/* set_memory_limit(bytes): caps this state's memory (0: no cap); for tests of
   worker states running out of memory. */
static int l_set_memory_limit(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    cl_allocator_set_limit(cl_state_allocator(L), n > 0 ? (size_t)n : 0);
    return 0;
}

int cl_open_workers(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"pack", l_pack}, {"pack_process", l_pack_process}, {"pack_args", l_pack_args},
        {"unpack", l_unpack},
        {"configure", l_configure},
        {"set_memory_limit", l_set_memory_limit}, {NULL, NULL},
    };
    luaL_newlib(L, fns);
    return 1;
}
