/* The C reference for benchmarks/subprocess.lua: what a careful C program does.
 *   subprocess_c seq N        posix_spawn + waitpid of /bin/true, N times in turn
 *   subprocess_c inflight N K N children of /bin/true, K in flight (waitpid(-1))
 *   subprocess_c cat MIB REPS MIB MiB through `cat` (stdin -> stdout), REPS times (a
 *                             new cat each time, its start counted), non-blocking
 *                             pipes driven by poll(2), 64 KiB writes and reads
 * Prints "name value unit" (per second, or MB/s). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static pid_t spawn_true(void) {
    char *argv[] = {"/bin/true", NULL};
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
    if (r) { fprintf(stderr, "posix_spawn: %s\n", strerror(r)); exit(1); }
    return pid;
}

static void seq(int n) {
    double t0 = now();
    for (int i = 0; i < n; i++) {
        pid_t pid = spawn_true();
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    }
    printf("spawn_seq %.1f spawns/s\n", n / (now() - t0));
}

static void inflight(int n, int k) {
    double t0 = now();
    int started = 0, done = 0;
    while (started < k && started < n) { spawn_true(); started++; }
    while (done < n) {
        int st;
        if (waitpid(-1, &st, 0) < 0) { if (errno == EINTR) continue; perror("waitpid"); exit(1); }
        done++;
        if (started < n) { spawn_true(); started++; }
    }
    printf("spawn_inflight %.1f spawns/s\n", n / (now() - t0));
}

static double cat_once(int mib) {
    size_t total = (size_t)mib << 20, sent = 0, got = 0;
    char *data = malloc(total), buf[65536];
    memset(data, 'x', total);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) { perror("pipe"); exit(1); }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = {"cat", NULL};
    double t0 = now();
    pid_t pid;
    if (posix_spawnp(&pid, "cat", &fa, NULL, argv, environ)) { perror("spawn"); exit(1); }
    close(in[0]);
    close(out[1]);
    int wfd = in[1];
    while (got < total) {
        struct pollfd p[2] = {{out[0], POLLIN, 0}, {wfd, POLLOUT, 0}};
        poll(p, wfd >= 0 ? 2 : 1, -1);
        if (wfd >= 0 && (p[1].revents & (POLLOUT | POLLERR))) {
            size_t chunk = total - sent < 65536 ? total - sent : 65536;
            ssize_t w = write(wfd, data + sent, chunk);
            if (w > 0) sent += (size_t)w;
            if (sent == total) { close(wfd); wfd = -1; }
        }
        if (p[0].revents & (POLLIN | POLLHUP)) {
            ssize_t r;
            while ((r = read(out[0], buf, sizeof buf)) > 0) got += (size_t)r;
            if (r == 0) break;
        }
    }
    int st;
    waitpid(pid, &st, 0);
    double dt = now() - t0;
    close(out[0]);
    if (got != total) { fprintf(stderr, "cat: got %zu of %zu\n", got, total); exit(1); }
    free(data);
    return dt;
}

static void cat(int mib, int reps) {
    double dt = 0;
    for (int i = 0; i < reps; i++) dt += cat_once(mib);
    printf("cat %.1f MB/s\n", ((double)mib * reps * (1 << 20)) / dt / 1e6);
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "seq")) seq(atoi(argv[2]));
    else if (argc >= 4 && !strcmp(argv[1], "inflight")) inflight(atoi(argv[2]), atoi(argv[3]));
    else if (argc >= 4 && !strcmp(argv[1], "cat")) cat(atoi(argv[2]), atoi(argv[3]));
    else { fprintf(stderr, "usage: subprocess_c seq N | inflight N K | cat MIB REPS\n"); return 2; }
    return 0;
}
