/*
 * The Lua allocator. Lua tells the size of every block it frees or resizes, so small
 * blocks (coroutine states, stacks, call frames, tables: most of a task) need no
 * header: they are carved from 64 KiB slabs, one size class per slab, and found
 * again by masking the address. A slab whose blocks are all free goes back to a
 * pool of empty slabs; beyond twice the bytes in use (at least 10 MiB) the pool
 * returns their pages to the system (MADV_DONTNEED), so a spike of a million tasks
 * does not pin its memory. Classes go by 16 bytes up to 1 KiB, then by 256 bytes
 * up to SMALL_MAX (8 KiB: at least 7 blocks a slab): the medium ones are mostly
 * strings, such as the 4 KiB a socket read returns, which the collector frees a
 * cycle's worth at a time and the next cycle allocates again. From slabs that costs
 * a pointer push and pop instead of malloc and free (~450 instructions), and no
 * page faults from glibc giving the top of its heap back and taking it again. Blocks
 * above SMALL_MAX go to malloc. One allocator per lua_State (one thread). `limit`
 * (0 = none) caps the bytes Lua may hold: allocation beyond it fails, which Lua
 * raises as "not enough memory".
 */
#include "CLuaShim.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <malloc.h>

/* Under AddressSanitizer every block goes to malloc, so that ASan sees each small
   Lua block on its own (overflows, use after free) and LeakSanitizer sees leaks:
   inside a slab neither would show. */
#if defined(__SANITIZE_ADDRESS__)
#define CL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CL_ASAN 1
#endif
#endif
#ifdef CL_ASAN
#define SMALL_MAX 0
#else
#define SMALL_MAX 8192
#endif

#define GRAIN 16                   /* classes 1..64: 16..1024 bytes */
#define MEDIUM_GRAIN 256           /* classes 65..92: 1280..8192 bytes */
#define NCLASSES (1024 / GRAIN + (8192 - 1024) / MEDIUM_GRAIN)
#define SLAB_SIZE ((size_t)64 << 10)
#define REGION_SLABS 64            /* slabs are mapped 4 MiB at a time */
#define WARM_MIN_SLABS 160         /* empty slabs kept with their pages: at least 10 MiB,
                                      the 8 MiB of garbage gcpace.c lets a cycle make */

typedef struct free_block { struct free_block *next; } free_block;

typedef struct slab {
    struct slab *prev, *next;      /* in its class's list of slabs with room */
    free_block *free;              /* blocks given back */
    char *bump, *end;              /* never handed out yet */
    unsigned used;                 /* blocks handed out */
    unsigned size;                 /* block size of its class */
    int listed;
} slab;

#define SLAB_HEADER ((sizeof(slab) + 63) & ~(size_t)63)

typedef struct region { struct region *next; } region;

struct cl_allocator {
    slab *room[NCLASSES + 1];      /* per class: slabs with a free block */
    slab **empty;                  /* empty slabs: [0, ncold) gave their pages back */
    size_t nempty, ncold, empty_cap;
    char *carve, *carve_end;       /* unused slabs of the newest region */
    region *regions;               /* every mapping, for cl_allocator_free */
    size_t bytes;
    size_t limit;
};

static inline size_t class_of(size_t n) {
    return n <= 1024 ? (n + GRAIN - 1) / GRAIN : 1024 / GRAIN + (n - 1024 + MEDIUM_GRAIN - 1) / MEDIUM_GRAIN;
}
static inline size_t class_size(size_t c) {
    return c <= 1024 / GRAIN ? c * GRAIN : 1024 + (c - 1024 / GRAIN) * MEDIUM_GRAIN;
}
static inline slab *slab_of(void *p) { return (slab *)((uintptr_t)p & ~(uintptr_t)(SLAB_SIZE - 1)); }

/* A region of REGION_SLABS slabs aligned to SLAB_SIZE, its first slab-sized
   chunk's first bytes linking the regions (that slab is never handed out). */
static int map_region(cl_allocator *a) {
    size_t len = (REGION_SLABS + 1) * SLAB_SIZE;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return -1;
    char *base = (char *)(((uintptr_t)m + SLAB_SIZE - 1) & ~(uintptr_t)(SLAB_SIZE - 1));
    if (base > m) munmap(m, (size_t)(base - m));
    char *stop = base + REGION_SLABS * SLAB_SIZE;
    if (m + len > stop) munmap(stop, (size_t)(m + len - stop));
    region *r = (region *)base;
    r->next = a->regions;
    a->regions = r;
    a->carve = base + SLAB_SIZE;
    a->carve_end = stop;
    return 0;
}

/* Puts s first in its class's list of slabs with room. */
static void list_front(cl_allocator *a, slab *s, size_t c) {
    s->prev = NULL;
    s->next = a->room[c];
    if (s->next) s->next->prev = s;
    a->room[c] = s;
    s->listed = 1;
}

static slab *new_slab(cl_allocator *a, size_t c) {
    slab *s;
    if (a->nempty) {
        s = a->empty[--a->nempty]; /* a warm one while there is one */
        if (a->ncold > a->nempty) a->ncold = a->nempty;
    } else {
        if (a->carve == a->carve_end && map_region(a) != 0) return NULL;
        s = (slab *)a->carve;
        a->carve += SLAB_SIZE;
    }
    s->free = NULL;
    s->bump = (char *)s + SLAB_HEADER;
    s->end = (char *)s + SLAB_SIZE;
    s->used = 0;
    s->size = (unsigned)class_size(c);
    list_front(a, s, c);
    return s;
}

static void unlist(cl_allocator *a, slab *s, size_t c) {
    if (s->prev) s->prev->next = s->next; else a->room[c] = s->next;
    if (s->next) s->next->prev = s->prev;
    s->listed = 0;
}

/* Room for one more slab in the pool of empty slabs; false if none can be had (the
   slab then simply stays in its class). */
static int pool_reserve(cl_allocator *a) {
    if (a->nempty < a->empty_cap) return 1;
    size_t cap = a->empty_cap ? a->empty_cap * 2 : 64;
    slab **e = realloc(a->empty, cap * sizeof *e);
    if (!e) return 0;
    a->empty = e;
    a->empty_cap = cap;
    return 1;
}

/* Adds an empty slab to the pool, then gives back the pages of the warm slabs
   beyond the limit (oldest first). The limit is twice the bytes in use (the
   collector lets garbage grow to up to twice the live data's size before it runs,
   or to the floor: WARM_MIN_SLABS): churn, such as
   tasks ending while others start, reuses warm pages instead of faulting fresh
   ones in, while the memory of a spike goes back as the spike ends. */
static void pool_push(cl_allocator *a, slab *s) {
    a->empty[a->nempty++] = s;
    size_t limit = 2 * (a->bytes / SLAB_SIZE); /* the collector's pause: up to 2x live in garbage */
    if (limit < WARM_MIN_SLABS) limit = WARM_MIN_SLABS;
    while (a->nempty - a->ncold > limit) madvise(a->empty[a->ncold++], SLAB_SIZE, MADV_DONTNEED);
}

static void *obtain_small(cl_allocator *a, size_t c) {
    slab *s = a->room[c];
    if (!s && !(s = new_slab(a, c))) return NULL;
    void *p;
    if (s->free) {
        p = s->free;
        s->free = s->free->next;
    } else {
        p = s->bump;
        s->bump += s->size;
    }
    s->used++;
    if (!s->free && s->bump + s->size > s->end) unlist(a, s, c); /* full */
    return p;
}

static void release_small(cl_allocator *a, void *p, size_t c) {
    slab *s = slab_of(p);
    free_block *b = p;
    b->next = s->free;
    s->free = b;
    s->used--;
    if (!s->listed) {
        list_front(a, s, c); /* it was full: it has room again */
    } else if (s->used == 0 && (s->prev || s->next) && pool_reserve(a)) {
        /* empty, and not the class's only slab: hand it back */
        unlist(a, s, c);
        pool_push(a, s);
    }
}

static void release(cl_allocator *a, void *p, size_t size) {
    a->bytes -= size;
    if (size <= SMALL_MAX) release_small(a, p, class_of(size));
    else free(p);
}

static void *obtain(cl_allocator *a, size_t size) {
    if (a->limit && a->bytes + size > a->limit) return NULL;
    void *p = size <= SMALL_MAX ? obtain_small(a, class_of(size)) : malloc(size);
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

/* After lua_close: every small block is free, so the regions go back whole. */
void cl_allocator_free(cl_allocator *a) {
    if (!a) return;
    region *r = a->regions;
    while (r) {
        region *n = r->next;
        munmap(r, REGION_SLABS * SLAB_SIZE);
        r = n;
    }
    free(a->empty);
    free(a);
}

size_t cl_allocator_bytes(cl_allocator *a) { return a->bytes; }

#define PAGE ((size_t)4096)
#define SLAB_PAGES (SLAB_SIZE / PAGE)

/* Gives back the pages of a slab in use that hold no live block. After a spike
   the survivors (a few blocks per slab) pin whole slabs otherwise. A free block
   whose start (its free-list link) is on a page given back leaves the free list:
   it is lost until the slab empties and starts afresh (new_slab), so no link is
   ever read from a page that reads as zeros again. Pages past `bump` hold
   nothing (bump allocation does not mind zeros). */
static void trim_slab(cl_allocator *a, slab *s, size_t c) {
    char *start = (char *)s + SLAB_HEADER;
    size_t size = s->size, n = (size_t)(s->bump - start) / size;
    unsigned char isfree[SLAB_SIZE / GRAIN];  /* per block handed out: free now? */
    unsigned char live[SLAB_PAGES] = { 0 };   /* per page: holds part of a live block */
    memset(isfree, 0, n);
    for (free_block *b = s->free; b; b = b->next) isfree[(size_t)((char *)b - start) / size] = 1;
    live[0] = 1; /* the header */
    for (size_t i = 0; i < n; i++) {
        if (isfree[i]) continue;
        size_t off = (size_t)(start - (char *)s) + i * size;
        for (size_t p = off / PAGE; p <= (off + size - 1) / PAGE; p++) live[p] = 1;
    }
    int dropped = 0;
    for (size_t p = 1; p < SLAB_PAGES;) { /* runs of free pages, one call each */
        if (live[p]) { p++; continue; }
        size_t q = p;
        while (q < SLAB_PAGES && !live[q]) live[q++] = 2;
        madvise((char *)s + p * PAGE, (q - p) * PAGE, MADV_DONTNEED);
        dropped = 1;
        p = q;
    }
    if (!dropped) return;
    free_block *list = NULL;
    for (size_t i = n; i-- > 0;) {
        size_t off = (size_t)(start - (char *)s) + i * size;
        if (!isfree[i] || live[off / PAGE] == 2) continue;
        free_block *b = (free_block *)((char *)s + off);
        b->next = list;
        list = b;
    }
    s->free = list;
    if (!s->free && s->bump + s->size > s->end) unlist(a, s, c);
}

/* core.trim_memory(): after a collection, gives back the pages of every empty
   slab (not only those beyond the warm pool), the pages of slabs in use that hold
   no live block (trim_slab), and the free pages glibc keeps in its heaps
   (malloc_trim): the blocks above SMALL_MAX (socket buffers, big strings and
   tables) live there. */
int l_trim_memory(lua_State *L) {
    cl_allocator *a = cl_state_allocator(L);
    while (a && a->ncold < a->nempty) madvise(a->empty[a->ncold++], SLAB_SIZE, MADV_DONTNEED);
#if SMALL_MAX > 0
    for (size_t c = 1; a && c <= NCLASSES; c++) {
        slab *s = a->room[c];
        while (s) {
            slab *next = s->next; /* trim_slab may unlist s */
            trim_slab(a, s, c);
            s = next;
        }
    }
#endif
    malloc_trim(0);
    return 0;
}
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
