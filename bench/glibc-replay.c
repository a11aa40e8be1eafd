/*
 * glibc's malloc replaying a memkit bench script (bench/replay.ts writes it):
 * the native anchor of `npm run bench -- kmalloc`. Built on the fly with the
 * system's gcc into a temporary directory; never part of the package.
 *
 *   glibc-replay SCRIPT time PASSES   warm-up pass, then PASSES timed passes:
 *                                     prints the nanoseconds of each, one a line
 *   glibc-replay SCRIPT util          one pass: prints peak payload / peak
 *                                     footprint (mallinfo2 arena + hblkhd, less
 *                                     what the replayer itself holds)
 *
 * SCRIPT: u32 ops, u32 ids, then ops bytes of kind (0 alloc, 1 free,
 * 2 realloc), padding to 4, ops i32 ids, ops u32 sizes (little-endian).
 * Only the replay loop is timed, the same loop as the JavaScript contenders'.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t n, ids;
static uint8_t *kind;
static int32_t *id;
static uint32_t *size;
static void **addr;

static uintptr_t pass(void) {
  uintptr_t s = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t k = kind[i];
    int32_t b = id[i];
    if (k == 0) {
      void *p = malloc(size[i]);
      addr[b] = p;
      s ^= (uintptr_t)p;
    } else if (k == 1) {
      free(addr[b]);
    } else {
      addr[b] = realloc(addr[b], size[i]);
    }
  }
  return s;
}

static double utilization(void) {
  double payload = 0, peakPayload = 0, peakFoot = 0;
  double *req = calloc(ids, sizeof(double));
  /* The replayer's own arrays are not the program's: count from here. */
  struct mallinfo2 m0 = mallinfo2();
  double base = (double)m0.arena + (double)m0.hblkhd;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t k = kind[i];
    int32_t b = id[i];
    if (k == 0) {
      addr[b] = malloc(size[i]);
      req[b] = size[i];
      payload += size[i];
    } else if (k == 1) {
      free(addr[b]);
      payload -= req[b];
    } else {
      addr[b] = realloc(addr[b], size[i]);
      payload += (double)size[i] - req[b];
      req[b] = size[i];
    }
    if (payload > peakPayload) peakPayload = payload;
    if ((i & 15) == 0 || k != 1) {
      struct mallinfo2 m = mallinfo2();
      double f = (double)m.arena + (double)m.hblkhd - base;
      if (f > peakFoot) peakFoot = f;
    }
  }
  free(req);
  return peakPayload / peakFoot;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 3;
  if (fread(&n, 4, 1, f) != 1 || fread(&ids, 4, 1, f) != 1) return 4;
  uint32_t pad = (4 - (n & 3)) & 3;
  kind = malloc(n + pad);
  id = malloc(4 * (size_t)n);
  size = malloc(4 * (size_t)n);
  addr = calloc(ids, sizeof(void *));
  if (fread(kind, 1, n + pad, f) != n + pad || fread(id, 4, n, f) != n || fread(size, 4, n, f) != n) return 5;
  fclose(f);
  if (strcmp(argv[2], "util") == 0) {
    printf("%.6f\n", utilization());
    return 0;
  }
  int passes = argc > 3 ? atoi(argv[3]) : 1;
  uintptr_t sink = pass(); /* warm-up */
  for (int r = 0; r < passes; r++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sink ^= pass();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.0f\n", (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec));
  }
  return sink == 42 ? 1 : 0;
}
