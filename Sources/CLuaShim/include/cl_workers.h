// Transfer codec, worker Lua states and Universal objects (codec.c, workers.c,
// universal.c): the C half of curio's workers. Values cross threads only as
// encoded messages (cl_msg); Swift moves message pointers around and never touches
// Lua values itself.
#ifndef CL_WORKERS_H
#define CL_WORKERS_H
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

/// An encoded sequence of transferable values. `handles` are the Universal objects
/// it refers to (one reference each, released by cl_msg_free).
typedef struct cl_msg {
    char *data;
    size_t len, cap;
    struct cl_uobj **handles;
    int nhandles, hcap;
} cl_msg;

/// Frees a message and drops its handles' references. NULL is fine.
void cl_msg_free(cl_msg *m);

/// Takes the message out of the message box at stack index `idx` (the box becomes
/// empty). Cannot raise; NULL if `idx` is not a full box.
cl_msg *cl_msg_take(lua_State *L, int idx);
/// Pushes a box owning `m` (protected). Returns 0, or -1 (out of memory: `m` freed).
int cl_msg_pushbox(lua_State *L, cl_msg *m);

/// Runs an encoded call (from `workers.pack_call`) in this OS thread's worker Lua
/// state and returns the encoded outcome. Consumes `in`. NULL only if memory ran out.
cl_msg *cl_worker_call(cl_msg *in);
/// The main loop of `curio-lua --curio-worker-process PARENT_PID` (process.c):
/// serves calls on descriptor 3 until it closes; returns the exit status.
int cl_worker_process_main(long parent);
/// Closes this thread's worker state, if any (a pool thread about to exit).
void cl_worker_exit_thread(void);

/// Universal objects (UniversalQueue / UniversalEvent), shared by every thread.
typedef struct cl_uobj cl_uobj;
enum { CL_UQUEUE = 1, CL_UEVENT = 2 };
/// What a waiter waits for.
enum { CL_WAIT_GET = 1, CL_WAIT_PUT = 2, CL_WAIT_JOIN = 3, CL_WAIT_SET = 4 };

cl_uobj *cl_uobj_new(int kind, int64_t maxsize);
void cl_uobj_retain(cl_uobj *o);
void cl_uobj_release(cl_uobj *o);
int cl_uobj_kind(cl_uobj *o);
/// The object of the Universal userdata at `idx`, or NULL. Cannot raise.
cl_uobj *cl_uobj_check(lua_State *L, int idx);
/// Sets global `name` of `L` to a userdata for `o` (protected); 0 or -1.
int cl_uobj_setglobal(lua_State *L, const char *name, cl_uobj *o);
/// Pushes a new userdata for `o` (taking a reference), protected; 0 or -1.
int cl_uobj_push(lua_State *L, cl_uobj *o);

/// A wake-up for a task waiting in a kernel: called (with the object's lock held)
/// from whichever thread made the condition true.
typedef void (*cl_wake_fn)(void *ctx, int64_t token);
/// Registers a task waiter for `what`. Returns 1 if the condition already holds
/// (nothing registered), 0 if registered.
int cl_uobj_wait_task(cl_uobj *o, int what, cl_wake_fn fn, void *ctx, int64_t token);
/// Removes that waiter (its task was cancelled). If it had already been woken, the
/// wake-up passes to the next waiter of its kind, so nothing is lost.
void cl_uobj_unwait_task(cl_uobj *o, void *ctx, int64_t token);

/// Blocking operations for OS threads (worker states, Swift host threads).
/// `timeout` < 0 waits forever; they return 0, or -1 on timeout.
int cl_uq_put_block(cl_uobj *q, cl_msg *m, double timeout); /* consumes m on success */
cl_msg *cl_uq_get_block(cl_uobj *q, double timeout);
int cl_uq_join_block(cl_uobj *q, double timeout);
int cl_ue_wait_block(cl_uobj *e, double timeout);
/// Non-blocking operations: put returns 1 (consumed) or 0 (full); get returns NULL
/// if empty.
int cl_uq_tryput(cl_uobj *q, cl_msg *m);
cl_msg *cl_uq_tryget(cl_uobj *q);
/// -1 if task_done was called too often.
int cl_uq_task_done(cl_uobj *q);
int64_t cl_uq_size(cl_uobj *q);
int64_t cl_uq_maxsize(cl_uobj *q);
void cl_ue_set(cl_uobj *e);
void cl_ue_clear(cl_uobj *e);
int cl_ue_is_set(cl_uobj *e);

/// Codec from Swift: appends values to a message being built. Return 0 or -1 (out
/// of memory / too large).
cl_msg *cl_msg_new(void);
int cl_msg_put_nil(cl_msg *m);
int cl_msg_put_bool(cl_msg *m, int b);
int cl_msg_put_int(cl_msg *m, int64_t i);
int cl_msg_put_double(cl_msg *m, double d);
int cl_msg_put_string(cl_msg *m, const char *s, size_t len);
/// A table header: `narr` array values follow, then `nhash` key/value pairs.
int cl_msg_put_table(cl_msg *m, uint32_t narr, uint32_t nhash);
int cl_msg_put_handle(cl_msg *m, cl_uobj *o);
#endif
