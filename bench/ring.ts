/**
 * The producer/consumer ring of the workers benches (bench/workers and
 * bench/workers-layers): one single-producer, single-consumer ring of block
 * addresses per pair of workers, in a SharedArrayBuffer of control words.
 *
 * Ring words, from RING0 + pair * RING_WORDS: head, tail, consumer sleeping,
 * producer sleeping (each on a 64-byte line of its own), then RING slots.
 * Each side keeps the other's index as last seen and reads it again only
 * when that says full (producer) or empty (consumer), and publishes its own
 * once per PUBLISH blocks: the index lines move between the cores once per
 * batch, not once per block (FastForward; Lamport's queue with cached
 * indices). A side sleeps (Atomics.wait, 1 ms at most) only after a short
 * spin, and the other side wakes it only when its flag says it sleeps and a
 * batch of WAKE_BATCH slots is ready. Every contender runs the same ring
 * (bench/workers/native.c has it in C), so what differs is the allocator.
 *
 * Control words before RING0: 0 = go (the main thread sets it to 1 and
 * notifies), 1 = the global-lock contender's lock word.
 *
 * @module
 */

export const RING = 4096;
export const RING0 = 16;
/** Words of one ring: head, tail, two sleeping flags (16 words apart), the slots. */
export const RING_WORDS = RING + 64;
const TAIL = 16;
const C_SLEEPS = 32;
const P_SLEEPS = 48;
const SLOTS = 64;
/** Each side publishes its index once per this many blocks (and before it sleeps or ends). */
const PUBLISH = 16;
/** A sleeping side of a ring is woken once this many slots are ready for it. */
const WAKE_BATCH = 256;

/** Bytes of the control buffer for `pairs` rings. */
export function controlBytes(pairs: number): number {
  return (RING0 + pairs * RING_WORDS + 16) * 4;
}

/** The producer of ring `pair`: `ops` blocks from `make()`, handed over in order. */
export function produce(ctl: Int32Array, pair: number, ops: number, make: () => number): void {
  const r = RING0 + pair * RING_WORDS;
  let tail = 0; // the consumer's index as last seen
  for (let h = 0; h < ops; h++) {
    const p = make();
    if (h - tail >= RING) {
      Atomics.store(ctl, r, h); // all made so far: the consumer may be waiting for them
      tail = Atomics.load(ctl, r + TAIL);
      for (let spin = 0; h - tail >= RING; spin++) {
        if (spin >= 100) {
          Atomics.store(ctl, r + P_SLEEPS, 1);
          if (h - Atomics.load(ctl, r + TAIL) >= RING) Atomics.wait(ctl, r + TAIL, tail, 1);
          Atomics.store(ctl, r + P_SLEEPS, 0);
        }
        tail = Atomics.load(ctl, r + TAIL);
      }
    }
    ctl[r + SLOTS + (h & (RING - 1))] = p;
    if ((h & (PUBLISH - 1)) === PUBLISH - 1 || h === ops - 1) {
      Atomics.store(ctl, r, h + 1);
      if ((h & (WAKE_BATCH - 1)) === WAKE_BATCH - 1 && Atomics.load(ctl, r + C_SLEEPS) !== 0) Atomics.notify(ctl, r);
    }
  }
  Atomics.notify(ctl, r);
}

/** The consumer of ring `pair`: takes `ops` blocks in order and passes each to `take`. */
export function consume(ctl: Int32Array, pair: number, ops: number, take: (p: number) => void): void {
  const r = RING0 + pair * RING_WORDS;
  let head = 0; // the producer's index as last seen
  for (let t = 0; t < ops; t++) {
    if (t === head) {
      Atomics.store(ctl, r + TAIL, t); // all taken so far: the producer may be waiting for room
      head = Atomics.load(ctl, r);
      for (let spin = 0; head === t; spin++) {
        if (spin >= 100) {
          Atomics.store(ctl, r + C_SLEEPS, 1);
          if (Atomics.load(ctl, r) === t) Atomics.wait(ctl, r, t, 1);
          Atomics.store(ctl, r + C_SLEEPS, 0);
        }
        head = Atomics.load(ctl, r);
      }
    }
    take(ctl[r + SLOTS + (t & (RING - 1))]! >>> 0);
    if ((t & (PUBLISH - 1)) === PUBLISH - 1) {
      Atomics.store(ctl, r + TAIL, t + 1);
      if ((t & (WAKE_BATCH - 1)) === WAKE_BATCH - 1 && Atomics.load(ctl, r + P_SLEEPS) !== 0)
        Atomics.notify(ctl, r + TAIL);
    }
  }
}
