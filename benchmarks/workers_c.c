/* The reference thread pool for benchmarks/workers.sh: pthreads taking jobs
   from a mutex/condvar queue and signalling completions to the submitting thread
   through an eventfd (the wake-up curio-lua's kernel uses). Prints:
     seq <round trips/s>     one job at a time, waiting for each
     par100 <jobs/s>         100 jobs in flight, waiting for all
   usage: workers_c N_SEQ N_PAR_ROUNDS */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 64
#define QCAP 1024

typedef struct { long arg, result; } job;
static job *queue[QCAP];
static int qhead, qcount;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int efd;

static long trivial(long x) { return x; }

static void *worker(void *p) {
    (void)p;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (qcount == 0) pthread_cond_wait(&cv, &mu);
        job *j = queue[qhead];
        qhead = (qhead + 1) % QCAP;
        qcount--;
        pthread_mutex_unlock(&mu);
        j->result = trivial(j->arg);
        uint64_t one = 1;
        if (write(efd, &one, 8) != 8) abort();
    }
    return NULL;
}

static void submit(job *j) {
    pthread_mutex_lock(&mu);
    queue[(qhead + qcount) % QCAP] = j;
    qcount++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static uint64_t wait_done(void) {
    uint64_t n;
    if (read(efd, &n, 8) != 8) abort();
    return n;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long nseq = argc > 1 ? atol(argv[1]) : 100000, rounds = argc > 2 ? atol(argv[2]) : 1000;
    efd = eventfd(0, 0);
    for (int i = 0; i < NTHREADS; i++) {
        pthread_t t;
        pthread_create(&t, NULL, worker, NULL);
    }
    job j = { 1, 0 };
    submit(&j); wait_done(); /* warm */
    double t0 = now();
    for (long i = 0; i < nseq; i++) { submit(&j); wait_done(); }
    printf("seq %.0f\n", nseq / (now() - t0));
    static job js[100];
    t0 = now();
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < 100; i++) { js[i].arg = i; submit(&js[i]); }
        uint64_t got = 0;
        while (got < 100) got += wait_done();
    }
    printf("par100 %.0f\n", rounds * 100 / (now() - t0));
    return 0;
}
