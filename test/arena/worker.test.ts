import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { Arena } from '../../src/arena/index.js';

it('another worker attaches to a shared arena and allocates in it; this instance sees it', async () => {
  const arena = new Arena({ bytes: 4096, shared: true });
  const first = arena.alloc(100);
  arena.memory.u8[first] = 7;
  const worker = new Worker(new URL('./fixtures/attach-worker.mjs', import.meta.url), {
    workerData: arena.memory.buffer,
  });
  const msg = await new Promise<{ usedBefore: number; p: number; usedAfter: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  expect(msg.usedBefore).toBe(100);
  expect(msg.p).toBe(first + 104);
  expect(arena.used).toBe(msg.usedAfter);
  expect(arena.memory.u8[msg.p]).toBe(42);
  expect(arena.alloc(8)).toBe(msg.p + 16);
});
