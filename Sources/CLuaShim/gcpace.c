/* The collector's pace. Lua starts a cycle when the heap reaches `pause`% of the
 * live data after the last one (200: as much garbage as live data). With many
 * tasks that is often: a server with 1000 connections holds ~2.5 MB, so a cycle
 * (marking every task's coroutine twice) ran every ~600 messages of 4 KiB, about
 * 3,400 instructions a message. As Go's collector does (4 MB minimum heap), we let
 * garbage reach at least `floor` bytes: the pause for the next cycle becomes
 * 100 * (live + floor) / live, at least 204, at most PAUSE_MAX. Heaps of a few MB
 * pay the floor in memory (at most 3x the live data in garbage), large ones keep
 * Lua's default.
 *
 * A cycle's end is seen by a sentinel: a garbage table whose __gc sets a flag and
 * makes the next sentinel. A finalizer may not call lua_gc, so the next trap
 * (yield_trap in shim.c) sets the pause. A script that sets the pause itself
 * (collectgarbage("setpause") or ("incremental", p)) keeps its own: the pacer
 * notices the pause it did not set and stops. A floor of 0 paces as Lua does. */
#include "CLuaShim.h"

/* The pause set after a cycle applies at the end of the next one, to the live data
 * of then: capping it bounds the overshoot when the live data grows fast. */
#define PAUSE_MAX 400
/* Lua's default is 200; the pacer's least is one grain more, so that a script setting
 * 200 itself is noticed too. */
#define PAUSE_MIN 204

static char sentinel_mt_key;

static curio_host *host_of(lua_State *L) { return *(curio_host **)lua_getextraspace(L); }

static void new_sentinel(lua_State *L) {
    lua_newtable(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &sentinel_mt_key);
    lua_setmetatable(L, -2);
    lua_pop(L, 1); /* garbage at once: collected by the current or next cycle */
}

static int sentinel_gc(lua_State *L) {
    curio_host *h = host_of(L);
    if (h && h->gc_pause >= 0) {
        h->gc_cycle_done = 1;
        new_sentinel(L);
    }
    return 0;
}

/* lua_gc stores the pause divided by 4: compare what it gives back in that grain. */
static int grain(int pause) { return pause / 4 * 4; }

void cl_gcpace_retune(lua_State *L, curio_host *h) {
    h->gc_cycle_done = 0;
    if (h->gc_pause < 0) return;
    size_t live = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
    if (live == 0) live = 1;
    size_t want = 100 * (live + h->gc_floor) / live;
    int pause = grain(want > PAUSE_MAX ? PAUSE_MAX : want < PAUSE_MIN ? PAUSE_MIN : (int)want);
    int old = lua_gc(L, LUA_GCSETPAUSE, pause);
    if (old != h->gc_pause) { /* the script chose its own */
        lua_gc(L, LUA_GCSETPAUSE, old);
        h->gc_pause = -1;
        return;
    }
    h->gc_pause = pause;
}

static int install(lua_State *L) {
    lua_newtable(L);
    lua_pushcfunction(L, sentinel_gc);
    lua_setfield(L, -2, "__gc");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sentinel_mt_key);
    new_sentinel(L);
    return 0;
}

int cl_gcpace_install(lua_State *L, size_t floor) {
    curio_host *h = host_of(L);
    if (!h) return -1;
    if (h->gc_floor || h->gc_pause) { /* installed: change the floor only */
        h->gc_floor = floor;
        h->gc_cycle_done = 1;
        return 0;
    }
    lua_pushcfunction(L, install);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
        return -1;
    }
    h->gc_floor = floor;
    h->gc_cycle_done = 0;
    lua_gc(L, LUA_GCSETPAUSE, PAUSE_MIN);
    h->gc_pause = PAUSE_MIN;
    h->gc_cycle_done = 1; /* set the first pause at the first trap */
    return 0;
}
