import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { BuddyAllocator, Memory } from '../../src/index.js';

it('a worker attaches to a buddy in a SharedArrayBuffer; both see one heap', async () => {
  const memory = Memory.create({ bytes: 1 << 20, shared: true });
  const buddy = new BuddyAllocator({ memory, pages: 64 });
  const mine = buddy.allocPages(4);
  memory.u8[mine] = 0x5c;
  const worker = new Worker(new URL('./fixtures/attach-worker.mjs', import.meta.url), {
    workerData: { buffer: memory.buffer, toFree: mine },
  });
  const msg = await new Promise<{ sawByte: number; a: number; b: number; counts: number[] }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  expect(msg.sawByte).toBe(0x5c); // the worker read what this thread wrote
  // its free is seen here: the freed 4-page block was split for its 2-page alloc
  expect(msg.a).toBe(mine);
  expect(buddy.blockPages(mine)).toBe(2);
  expect(buddy.blockPages(msg.b)).toBe(1);
  expect(memory.u8[msg.a]).toBe(0xaa);
  expect(buddy.freeCounts()).toEqual(msg.counts);
  buddy.checkInvariants();
});
