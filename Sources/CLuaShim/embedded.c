// The Lua half of the library, compiled into the binary with C23 #embed, so a
// copied curio-lua needs no files beside it. Add two lines here for each new
// file in lua/.
#pragma clang diagnostic ignored "-Wc23-extensions"
#include "CLuaShim.h"
#include <string.h>


static const char m_curio[] = {
#embed "../../lua/curio.lua"
, 0};
static const char m_errors[] = {
#embed "../../lua/curio/errors.lua"
, 0};
static const char m_check[] = {
#embed "../../lua/curio/check.lua"
, 0};
static const char m_kernel[] = {
#embed "../../lua/curio/kernel.lua"
, 0};
static const char m_task[] = {
#embed "../../lua/curio/task.lua"
, 0};
static const char m_time[] = {
#embed "../../lua/curio/time.lua"
, 0};
static const char m_taskgroup[] = {
#embed "../../lua/curio/taskgroup.lua"
, 0};
static const char m_coroutine[] = {
#embed "../../lua/curio/coroutine.lua"
, 0};
static const char m_sync[] = {
#embed "../../lua/curio/sync.lua"
, 0};
static const char m_queue[] = {
#embed "../../lua/curio/queue.lua"
, 0};
static const char m_local[] = {
#embed "../../lua/curio/local.lua"
, 0};
static const char m_socket[] = {
#embed "../../lua/curio/socket.lua"
, 0};
static const char m_io[] = {
#embed "../../lua/curio/io.lua"
, 0};
static const char m_network[] = {
#embed "../../lua/curio/network.lua"
, 0};
static const char m_ssl[] = {
#embed "../../lua/curio/ssl.lua"
, 0};
static const char m_test[] = {
#embed "../../lua/curio/test.lua"
, 0};
static const char m_test_assert[] = {
#embed "../../lua/curio/test/assert.lua"
, 0};
static const char m_test_output[] = {
#embed "../../lua/curio/test/output.lua"
, 0};
static const char m_test_cli[] = {
#embed "../../lua/curio/test/cli.lua"
, 0};
static const char m_repl[] = {
#embed "../../lua/curio/repl.lua"
, 0};
static const char m_help[] = {
#embed "../../lua/curio/help.lua"
, 0};
static const char m_cli[] = {
#embed "../../lua/curio/cli.lua"
, 0};

static const char m_workers[] = {
#embed "../../lua/curio/workers.lua"
, 0};
static const char m_universal[] = {
#embed "../../lua/curio/universal.lua"
, 0};
static const char m_channel[] = {
#embed "../../lua/curio/channel.lua"
, 0};
static const char m_subprocess[] = {
#embed "../../lua/curio/subprocess.lua"
, 0};
static const char m_signal[] = {
#embed "../../lua/curio/signal.lua"
, 0};
static const char m_diagnostics[] = {
#embed "../../lua/curio/diagnostics.lua"
, 0};
static const char m_monitor[] = {
#embed "../../lua/curio/monitor.lua"
, 0};
static const char m_processes[] = {
#embed "../../lua/curio/processes.lua"
, 0};
static const char m_embed[] = {
#embed "../../lua/curio/embed.lua"
, 0};

static const struct { const char *name; const char *src; size_t len; } modules[] = {
    {"curio", m_curio, sizeof m_curio - 1},
    {"curio.errors", m_errors, sizeof m_errors - 1},
    {"curio.check", m_check, sizeof m_check - 1},
    {"curio.kernel", m_kernel, sizeof m_kernel - 1},
    {"curio.task", m_task, sizeof m_task - 1},
    {"curio.time", m_time, sizeof m_time - 1},
    {"curio.taskgroup", m_taskgroup, sizeof m_taskgroup - 1},
    {"curio.coroutine", m_coroutine, sizeof m_coroutine - 1},
    {"curio.sync", m_sync, sizeof m_sync - 1},
    {"curio.queue", m_queue, sizeof m_queue - 1},
    {"curio.local", m_local, sizeof m_local - 1},
    {"curio.socket", m_socket, sizeof m_socket - 1},
    {"curio.io", m_io, sizeof m_io - 1},
    {"curio.network", m_network, sizeof m_network - 1},
    {"curio.ssl", m_ssl, sizeof m_ssl - 1},
    {"curio.test", m_test, sizeof m_test - 1},
    {"curio.test.assert", m_test_assert, sizeof m_test_assert - 1},
    {"curio.test.output", m_test_output, sizeof m_test_output - 1},
    {"curio.test.cli", m_test_cli, sizeof m_test_cli - 1},
    {"curio.repl", m_repl, sizeof m_repl - 1},
    {"curio.help", m_help, sizeof m_help - 1},
    {"curio.cli", m_cli, sizeof m_cli - 1},
    {"curio.embed", m_embed, sizeof m_embed - 1},
    {"curio.workers", m_workers, sizeof m_workers - 1},
    {"curio.universal", m_universal, sizeof m_universal - 1},
    {"curio.channel", m_channel, sizeof m_channel - 1},
    {"curio.subprocess", m_subprocess, sizeof m_subprocess - 1},
    {"curio.signal", m_signal, sizeof m_signal - 1},
    {"curio.diagnostics", m_diagnostics, sizeof m_diagnostics - 1},
    {"curio.monitor", m_monitor, sizeof m_monitor - 1},
    {"curio.processes", m_processes, sizeof m_processes - 1},
};

const char *cl_embedded_source(const char *name, size_t *len) {
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        if (strcmp(modules[i].name, name) == 0) {
            *len = modules[i].len;
            return modules[i].src;
        }
    }
    return NULL;
}
