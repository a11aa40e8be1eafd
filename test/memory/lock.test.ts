import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { HeapCorruptionError, MemkitError } from '../../src/errors/index.js';
import {
  LOCK_CONTENDED,
  breakLock,
  joinWorker,
  leaveWorker,
  lock,
  lockSlow,
  tryLock,
  unlock,
} from '../../src/memory/lock.js';

function start(
  buffer: SharedArrayBuffer,
  mode: 'count' | 'hold',
  iterations = 0,
): { worker: Worker; message: Promise<{ slot: number }> } {
  const worker = new Worker(new URL('./fixtures/lock-worker.mjs', import.meta.url), {
    workerData: { buffer, mode, iterations },
  });
  const message = new Promise<{ slot: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { worker, message };
}

describe('cross-worker lock', () => {
  it('four workers counting under one lock lose no increment', async () => {
    const buffer = new SharedArrayBuffer(16);
    const i32 = new Int32Array(buffer);
    const n = 20_000;
    const workers = [0, 1, 2, 3].map(() => start(buffer, 'count', n));
    const slots = (await Promise.all(workers.map((w) => w.message))).map((m) => m.slot);
    await Promise.all(workers.map((w) => w.worker.terminate()));
    expect(i32[1]).toBe(4 * n);
    expect(i32[0]).toBe(0); // released
    expect(new Set(slots).size).toBe(4); // each worker had its own slot
    expect(slots.every((s) => s >= 1 && s < 32)).toBe(true);
  });

  it('a worker killed while holding the lock: breakLock frees it and a waiter goes on', async () => {
    const buffer = new SharedArrayBuffer(16);
    const i32 = new Int32Array(buffer);
    const holder = start(buffer, 'hold');
    const { slot } = await holder.message;
    expect(i32[0]! & 0x3fffffff).toBe(slot + 1); // the word names its owner
    await holder.worker.terminate();
    expect(tryLock(i32, 0, 0)).toBe(false); // still held by the dead worker
    const waiter = start(buffer, 'count', 10); // blocks in lock() until the lock is broken
    await new Promise((r) => setTimeout(r, 100));
    expect(i32[1]).toBe(0);
    expect(breakLock(i32, 0, slot + 7)).toBe(false); // not the owner: nothing happens
    expect(breakLock(i32, 0, slot)).toBe(true);
    await waiter.message;
    await waiter.worker.terminate();
    expect(i32[1]).toBe(10);
    expect(i32[0]).toBe(0);
  });

  it('unlock by a non-owner is refused and changes nothing; a recursive take throws instead of hanging', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(8));
    lock(i32, 0, 3);
    expect(() => unlock(i32, 0, 4)).toThrow(HeapCorruptionError);
    expect(i32[0]).toBe(4);
    expect(() => lock(i32, 0, 3)).toThrow(/not recursive/);
    unlock(i32, 0, 3);
    expect(i32[0]).toBe(0);
    expect(() => unlock(i32, 0, 3)).toThrow(HeapCorruptionError);
  });

  it('the spinning path (a browser main thread cannot wait) takes the lock once it is free', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(8));
    lockSlow(i32, 0, 5, false); // free: taken at once
    expect(i32[0]).toBe(5);
    i32[0] = 2 | LOCK_CONTENDED;
    // held by slot 1 with waiters: break it, then the spinner takes it
    expect(breakLock(i32, 0, 1)).toBe(true);
    lockSlow(i32, 0, 5, false);
    expect(i32[0]! & 0x3fffffff).toBe(5);
  });

  it('worker slots: joined once each, slot 0 never handed out, all 31 then a typed error; leave frees one', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(4));
    const slots: number[] = [];
    for (let i = 0; i < 31; i++) slots.push(joinWorker(i32, 0));
    expect(slots).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect(() => joinWorker(i32, 0)).toThrow(MemkitError);
    leaveWorker(i32, 0, 7);
    expect(joinWorker(i32, 0)).toBe(7);
    expect(() => leaveWorker(i32, 0, 0)).toThrow(MemkitError);
    leaveWorker(i32, 0, 9);
    expect(() => leaveWorker(i32, 0, 9)).toThrow(/not joined/);
  });
});
