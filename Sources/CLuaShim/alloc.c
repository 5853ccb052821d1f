/*
 * The Lua allocator: size-class free lists for small blocks. Lua tells the size of
 * every block it frees or resizes, so a block needs no header and small blocks
 * (coroutine states, stacks, call frames, table parts: most of a task) are reused
 * in O(1) without going through malloc's bins. One allocator per lua_State (one
 * thread). Blocks above SMALL_MAX go to malloc. `limit` (0 = none) caps the bytes
 * Lua may hold: allocation beyond it fails, which Lua raises as "not enough memory".
 */
#include "CLuaShim.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAIN 16
#define SMALL_MAX 1024
#define NCLASSES (SMALL_MAX / GRAIN)
#define CACHE_BYTES_PER_CLASS (1 << 20) /* keep at most 1 MiB of free blocks per class */

typedef struct free_block { struct free_block *next; } free_block;

struct cl_allocator {
    free_block *free[NCLASSES + 1];
    size_t cached[NCLASSES + 1];
    size_t bytes;
    size_t limit;
};

static inline size_t class_of(size_t n) { return (n + GRAIN - 1) / GRAIN; }

static void release(cl_allocator *a, void *p, size_t size) {
    a->bytes -= size;
    if (size <= SMALL_MAX) {
        size_t c = class_of(size);
        if (a->cached[c] * c * GRAIN < CACHE_BYTES_PER_CLASS) {
            free_block *b = p;
            b->next = a->free[c];
            a->free[c] = b;
            a->cached[c]++;
            return;
        }
    }
    free(p);
}

static void *obtain(cl_allocator *a, size_t size) {
    if (a->limit && a->bytes + size > a->limit) return NULL;
    void *p;
    if (size <= SMALL_MAX) {
        size_t c = class_of(size);
        free_block *b = a->free[c];
        if (b) {
            a->free[c] = b->next;
            a->cached[c]--;
            p = b;
        } else {
            p = malloc(c * GRAIN);
        }
    } else {
        p = malloc(size);
    }
    if (p) a->bytes += size;
    return p;
}

static void *cl_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    cl_allocator *a = ud;
    if (ptr == NULL) return nsize ? obtain(a, nsize) : NULL; /* osize is a type tag here */
    if (nsize == 0) {
        release(a, ptr, osize);
        return NULL;
    }
    if (osize <= SMALL_MAX && nsize <= SMALL_MAX && class_of(osize) == class_of(nsize)) {
        if (a->limit && nsize > osize && a->bytes + (nsize - osize) > a->limit) return NULL;
        a->bytes = a->bytes - osize + nsize;
        return ptr;
    }
    if (osize > SMALL_MAX && nsize > SMALL_MAX) {
        if (a->limit && nsize > osize && a->bytes + (nsize - osize) > a->limit) return NULL;
        void *p = realloc(ptr, nsize);
        if (p) a->bytes = a->bytes - osize + nsize;
        return p;
    }
    void *p = obtain(a, nsize);
    if (!p) return NULL;
    memcpy(p, ptr, osize < nsize ? osize : nsize);
    release(a, ptr, osize);
    return p;
}

cl_allocator *cl_allocator_new(void) { return calloc(1, sizeof(cl_allocator)); }

void cl_allocator_free(cl_allocator *a) {
    if (!a) return;
    for (size_t c = 0; c <= NCLASSES; c++) {
        free_block *b = a->free[c];
        while (b) { free_block *n = b->next; free(b); b = n; }
    }
    free(a);
}

size_t cl_allocator_bytes(cl_allocator *a) { return a->bytes; }
void cl_allocator_set_limit(cl_allocator *a, size_t limit) { a->limit = limit; }

/* What luaL_newstate installs besides its allocator: a panic handler and the
   warning system (off until "@on", as in the lua interpreter). */
static int panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "curio-lua: PANIC: unprotected error in call to Lua API (%s)\n",
            msg ? msg : "error object is not a string");
    fflush(stderr);
    return 0;
}

static void warnfoff(void *ud, const char *message, int tocont);
static void warnfon(void *ud, const char *message, int tocont);
static void warnfcont(void *ud, const char *message, int tocont);

static int checkcontrol(lua_State *L, const char *message, int tocont) {
    if (tocont || *(message++) != '@') return 0;
    if (strcmp(message, "off") == 0) lua_setwarnf(L, warnfoff, L);
    else if (strcmp(message, "on") == 0) lua_setwarnf(L, warnfon, L);
    return 1;
}

static void warnfoff(void *ud, const char *message, int tocont) {
    checkcontrol((lua_State *)ud, message, tocont);
}

static void warnfcont(void *ud, const char *message, int tocont) {
    lua_State *L = (lua_State *)ud;
    fputs(message, stderr);
    if (tocont) {
        lua_setwarnf(L, warnfcont, L);
    } else {
        fputs("\n", stderr);
        fflush(stderr);
        lua_setwarnf(L, warnfon, L);
    }
}

static void warnfon(void *ud, const char *message, int tocont) {
    if (checkcontrol((lua_State *)ud, message, tocont)) return;
    fputs("Lua warning: ", stderr);
    warnfcont(ud, message, tocont);
}

lua_State *cl_newstate_with(cl_allocator *a) {
    lua_State *L = lua_newstate(cl_alloc, a);
    if (L) {
        lua_atpanic(L, panic);
        lua_setwarnf(L, warnfoff, L);
    }
    return L;
}
