/*
 * glibc's malloc replaying a memkit bench script (bench/replay.ts writes it):
 * the native anchor of `npm run bench -- kmalloc`. Built on the fly with the
 * system's gcc into a temporary directory; never part of the package.
 *
 *   glibc-replay SCRIPT time PASSES   warm-up pass, then PASSES timed passes:
 *                                     prints the nanoseconds of each, one a line
 *   glibc-replay SCRIPT util          one pass: prints peak payload / peak
 *                                     footprint (growth of the brk heap plus
 *                                     the program's mmapped chunks)
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
#include <unistd.h>

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

/* Bytes of the chunk behind p when glibc mmapped it (its size word's
 * IS_MMAPPED bit, 0x2), else 0: such chunks are outside the brk heap. */
static double mmapped(void *p) {
  if (p == NULL) return 0;
  size_t h;
  memcpy(&h, (char *)p - sizeof h, sizeof h);
  return (h & 2) ? (double)(h & ~(size_t)7) : 0;
}

static double utilization(void) {
  double payload = 0, peakPayload = 0, peakFoot = 0, mm = 0;
  double *req = calloc(ids, sizeof(double));
  /* Footprint = growth of the brk heap since here + bytes of mmapped chunks
   * (O(1) per op; mallinfo2 walks the free lists and is far too slow per op). */
  char *brk0 = sbrk(0);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t k = kind[i];
    int32_t b = id[i];
    if (k == 0) {
      addr[b] = malloc(size[i]);
      mm += mmapped(addr[b]);
      req[b] = size[i];
      payload += size[i];
    } else if (k == 1) {
      mm -= mmapped(addr[b]);
      free(addr[b]);
      payload -= req[b];
    } else {
      mm -= mmapped(addr[b]);
      addr[b] = realloc(addr[b], size[i]);
      mm += mmapped(addr[b]);
      payload += (double)size[i] - req[b];
      req[b] = size[i];
    }
    if (payload > peakPayload) peakPayload = payload;
    double f = (double)((char *)sbrk(0) - brk0) + mm;
    if (f > peakFoot) peakFoot = f;
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
