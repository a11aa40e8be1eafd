/*
 * The native anchor of `npm run bench -- workers`: glibc malloc/free from N
 * threads, on the same two workloads as the memkit workers.
 *   thread-local: each thread keeps a window of 1024 blocks; each step frees
 *                 one and allocates another (16..512 B, xorshift sizes).
 *   producer/consumer: threads in pairs; the producer allocates and pushes
 *                 the block on a single-producer ring, the consumer pops and
 *                 frees it (every free is of another thread's block).
 *   spin:         the thread-local loop with no allocator (the same PRNG calls,
 *                 window reads and writes, a byte written per step): the
 *                 machine's own scaling, the ceiling of any allocator's.
 *   pingpong:     2 threads hand one cache line back and forth OPS times (no
 *                 allocator): seconds / OPS is the core-to-core round trip,
 *                 what every block a producer/consumer pair hands over pays.
 * Usage: native MODE THREADS OPS_PER_THREAD  -> prints "ops seconds cpu-seconds"
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WINDOW 1024
#define RING 4096

static long ops_per_thread;
static unsigned span = 497; /* sizes 16 .. 16 + span - 1 (argv[4]: the largest size) */
static int mode_pc;

/* The ring of bench/workers/worker.ts: head and tail on cache lines of their own; each
   side keeps the other's index as last seen, reads it again only when that says full
   (producer) or empty (consumer), and publishes its own once per PUBLISH blocks. */
#define PUBLISH 16
typedef struct {
  _Alignas(64) _Atomic uint64_t head;
  _Alignas(64) _Atomic uint64_t tail;
  _Alignas(64) void *slot[RING];
} ring_t;
static ring_t *rings;

static uint32_t next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13; x ^= x >> 17; x ^= x << 5;
  return *s = x;
}

static void *local(void *arg) {
  uint32_t seed = 12345u + (uint32_t)(uintptr_t)arg * 7919u;
  void **win = calloc(WINDOW, sizeof(void *));
  for (long i = 0; i < ops_per_thread; i += 2) {
    int k = next(&seed) & (WINDOW - 1);
    free(win[k]);
    win[k] = malloc(16 + next(&seed) % span);
    ((volatile char *)win[k])[0] = 1;
  }
  for (int k = 0; k < WINDOW; k++) free(win[k]);
  free(win);
  return NULL;
}

static void *spin(void *arg) {
  uint32_t seed = 12345u + (uint32_t)(uintptr_t)arg * 7919u;
  uintptr_t *win = calloc(WINDOW, sizeof(uintptr_t));
  volatile char *bytes = calloc(1 << 20, 1);
  for (long i = 0; i < ops_per_thread; i += 2) {
    int k = next(&seed) & (WINDOW - 1);
    uintptr_t p = ((win[k] + 16 + next(&seed) % span) * 16) & ((1 << 20) - 1);
    bytes[p] = 1;
    win[k] = p;
  }
  free((void *)bytes);
  free(win);
  return NULL;
}

static void *producer(void *arg) {
  ring_t *r = &rings[(uintptr_t)arg];
  uint32_t seed = 777u + (uint32_t)(uintptr_t)arg;
  uint64_t tail = 0;
  for (uint64_t h = 0; h < (uint64_t)ops_per_thread; h++) {
    void *p = malloc(16 + next(&seed) % span);
    ((volatile char *)p)[0] = 1;
    if (h - tail >= RING) {
      atomic_store_explicit(&r->head, h, memory_order_release);
      while (h - (tail = atomic_load_explicit(&r->tail, memory_order_acquire)) >= RING) sched_yield();
    }
    r->slot[h % RING] = p;
    if (h % PUBLISH == PUBLISH - 1 || h == (uint64_t)ops_per_thread - 1)
      atomic_store_explicit(&r->head, h + 1, memory_order_release);
  }
  return NULL;
}

static void *consumer(void *arg) {
  ring_t *r = &rings[(uintptr_t)arg];
  uint64_t head = 0;
  for (uint64_t t = 0; t < (uint64_t)ops_per_thread; t++) {
    if (t == head) {
      atomic_store_explicit(&r->tail, t, memory_order_release);
      while ((head = atomic_load_explicit(&r->head, memory_order_acquire)) == t) sched_yield();
    }
    free(r->slot[t % RING]);
    if (t % PUBLISH == PUBLISH - 1) atomic_store_explicit(&r->tail, t + 1, memory_order_release);
  }
  return NULL;
}

/* pingpong: thread 0 writes odd values, thread 1 answers with the next even one. */
static _Alignas(64) _Atomic uint64_t ball;
static void *ping(void *arg) {
  uint64_t me = (uintptr_t)arg;
  for (uint64_t i = 0; i < (uint64_t)ops_per_thread; i++) {
    uint64_t want = 2 * i + me; /* ping waits for 2i, pong for 2i + 1 */
    while (atomic_load_explicit(&ball, memory_order_acquire) != want) {}
    atomic_store_explicit(&ball, want + 1, memory_order_release);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) { fprintf(stderr, "usage: native local|pc|spin|pingpong THREADS OPS [MAXSIZE]\n"); return 2; }
  if (argc == 5) span = (unsigned)atoi(argv[4]) - 15;
  mode_pc = strcmp(argv[1], "pc") == 0;
  int mode_spin = strcmp(argv[1], "spin") == 0;
  int mode_pingpong = strcmp(argv[1], "pingpong") == 0;
  int n = mode_pingpong ? 2 : atoi(argv[2]);
  ops_per_thread = atol(argv[3]);
  rings = aligned_alloc(64, (size_t)n * sizeof(ring_t));
  memset(rings, 0, (size_t)n * sizeof(ring_t));
  pthread_t th[64];
  struct timespec a, b, ca, cb;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) {
    void *(*fn)(void *) =
        mode_pingpong ? ping : mode_spin ? spin : !mode_pc ? local : (i % 2 == 0 ? producer : consumer);
    pthread_create(&th[i], NULL, fn, (void *)(uintptr_t)(mode_pc ? i / 2 : i));
  }
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
  printf("%ld %.6f %.6f\n", mode_pingpong ? ops_per_thread : ops_per_thread * n, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9,
         (cb.tv_sec - ca.tv_sec) + (cb.tv_nsec - ca.tv_nsec) / 1e9);
  return 0;
}
