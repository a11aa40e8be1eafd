import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { Progress, formatDuration } from '../../src/cli/progress.js';

function sink(): { out: Writable; text: () => string } {
  let s = '';
  const out = new Writable({
    write(c: Buffer, _e, cb) {
      s += c.toString();
      cb();
    },
  });
  return { out, text: () => s };
}

describe('progress bar', () => {
  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
  });

  it('estimates the time left for the whole run from the ops done so far', () => {
    let now = 0;
    const { out, text } = sink();
    const p = new Progress(out, true, () => now);
    p.begin(4000); // two replays of 2000 ops
    p.start('a.rep kmalloc');
    expect(text()).not.toMatch(/left/); // no rate yet
    now = 10_000;
    p.update(1000, 2000); // 1000 of 4000 ops in 10 s: 30 s to go
    expect(text()).toMatch(/a\.rep kmalloc \[#{15}-{15}\] {2}50% {2}about 0:30 left/);
    p.done(2000);
    now = 20_000;
    p.start('a.rep tlsf');
    p.update(1000, 2000); // 3000 of 4000 in 20 s: about 6.7 s to go
    expect(text()).toMatch(/a\.rep tlsf \[#{15}-{15}\] {2}50% {2}about 0:07 left/);
  });

  it('writes nothing when disabled', () => {
    const { out, text } = sink();
    const p = new Progress(out, false);
    p.begin(10);
    p.start('x');
    p.update(5, 10);
    p.done(10);
    expect(text()).toBe('');
  });
});
