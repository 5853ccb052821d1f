// CLuaShim: every Lua API call that may raise (allocate, run metamethods, longjmp)
// happens here in C, never in a Swift frame. Swift reaches Lua only through these
// functions and the non-raising parts of the API (lua_resume, lua_to*, lua_push*
// of numbers, lua_settop).
#ifndef CLUASHIM_H
#define CLUASHIM_H
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include "curio_ops.h"
#include "cl_embed.h"

/// The embedding host (the Swift runtime) as seen from C.
typedef struct curio_host {
    void *ctx;
    /// Kernel call: arguments at stack indices 2..nargs (index 1 is `op`). Pushes its
    /// results with non-raising API calls and returns their count, or -1 with a
    /// message in `errbuf` (the C side raises it once Swift has returned).
    int (*kcall)(void *ctx, lua_State *L, int op, int nargs);
    /// Registers a task of the current task (`main`: the main task of a new run).
    /// `ref` is a registry reference to the task's Lua object, which anchors it (and
    /// later its coroutine) until the task ends. Returns the task id and stores the
    /// parent's id, or returns -1 with a message in `errbuf`, or -2 if there is no
    /// current task.
    int64_t (*spawn)(void *ctx, int ref, int daemon, int main, int64_t *parent);
    /// Registry references of the Lua task finisher, the shared empty results
    /// table, the Task metatable and the message handler (core.set_task_class),
    /// and the spawn hook (core.set_spawn_hook); 0 if unset.
    int finisher_ref, no_results_ref, task_mt_ref, msgh_ref, spawn_hook_ref;
    /// Registry reference of raise_status(st, v) (core.set_raiser), or 0: raises
    /// what a trap's non-zero resume status stands for.
    int raiser_ref;
    /// The collector's pacing (gcpace.c): the garbage floor in bytes (0: off), the
    /// pause last set (-1: the script set its own), and whether a cycle ended since.
    size_t gc_floor;
    int gc_pause, gc_cycle_done;
    char errbuf[512];
} curio_host;

/// The state's allocator (alloc.c): size-class free lists, byte count, optional limit.
typedef struct cl_allocator cl_allocator;
size_t cl_allocator_bytes(cl_allocator *a);
void cl_allocator_set_limit(cl_allocator *a, size_t limit);

/// Creates a state with the standard libraries, the embedded `curio` modules and the
/// host pointer. `noenv` ignores LUA_PATH/LUA_CPATH (like `lua -E`). NULL on failure.
lua_State *cl_newstate(curio_host *host, int noenv);
/// The allocator of a state made by cl_newstate.
cl_allocator *cl_state_allocator(lua_State *L);
void cl_close(lua_State *L);

/// Paces the collector of a host's state so that a cycle starts once garbage reaches
/// the live data's size (Lua's default pause, 200) or `floor` bytes, whichever is
/// more (gcpace.c). Called again, changes the floor. Protected: 0, or -1 if out of memory.
int cl_gcpace_install(lua_State *L, size_t floor);
/// Called by traps: sets the pause for the next cycle after a cycle ended.
void cl_gcpace_retune(lua_State *L, curio_host *h);

/// The light userdata every kernel trap yields first.
void *cl_trap_sentinel(void);

/// lua_pcall(L, nargs, 0, 0) of the function below its arguments; on an error,
/// copies its message into `err` (if any) and returns -1. Leaves the stack at `top`.
int cl_pcall_into(lua_State *L, int nargs, int top, char *err, size_t errlen);

/// Makes the coroutine of the task anchored at registry `ref`, as it first runs
/// (spawn keeps only its arguments). Protected: NULL with a message in the host's
/// `errbuf` on failure (out of memory).
lua_State *cl_start_task(lua_State *L, int ref);

/// A task failed outside its body: its coroutine `co` died with the error on top,
/// or (`co` NULL) could not be made, with the message in the host's `errbuf`.
/// Calls the Lua finisher(task, false, error) in protected mode. Returns 0, or -1
/// with a message in `err`.
int cl_fail_task(lua_State *L, lua_State *co, int ref, char *err, size_t errlen);

/// A task ended after `cycles` steps: drops its registry reference, and its Task's
/// hold on the dead coroutine (the slot keeps `cycles`). Cannot raise; returns 0 on
/// success.
int cl_end_task(lua_State *L, int ref, int64_t cycles);

/// Runs `require(module).fn(args...)` in protected mode and copies tostring() of
/// its first result (or of the error) into `out`; returns 0, or -1 on a Lua
/// error; `status` gets the first result if it is an integer.
int cl_call_module_text(lua_State *L, const char *module, const char *fn,
                        int argc, const char *const *argv, char *out, size_t outlen, int *status);

/// Pushes a string onto `L` in protected mode (for results crossing from Swift).
/// Returns 0, or -1 if memory ran out (nothing pushed).
int cl_pushlstring(lua_State *L, const char *s, size_t len);

/// Diagnostics (diag.c): calls registry["curio.diagnostics"](kind, task, detail,
/// seconds), the task being the Lua object at registry `ref`, in protected mode.
/// Returns 0, or -1 with a message in `err`.
int cl_diag_event(lua_State *L, const char *kind, int ref, const char *detail, double seconds,
                  char *err, size_t errlen);

/// Source of an embedded Lua module, or NULL.
const char *cl_embedded_source(const char *name, size_t *len);

/// Wrappers for macros.
enum { CL_REGISTRYINDEX = LUA_REGISTRYINDEX };
static inline void cl_pop(lua_State *L, int n) { lua_settop(L, -(n)-1); }
static inline int cl_isnoneornil(lua_State *L, int i) { return lua_type(L, i) <= 0; }
#include "cl_workers.h"
#endif
