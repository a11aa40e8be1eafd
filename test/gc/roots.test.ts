import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Kmalloc, ManagedHeap, type Root } from '../../src/index.js';

function setup() {
  const heap = new ManagedHeap({ bytes: 1 << 21, autoCollect: false });
  const Node = heap.defineType('Node', { next: 'ref', v: 'i32' });
  return { heap, Node };
}

describe('roots', () => {
  it('a root keeps its object alive until released; releasing twice does nothing', () => {
    const { heap, Node } = setup();
    const r = heap.root(Node.alloc());
    const obj = r.value;
    heap.collect();
    expect(heap.isLive(obj)).toBe(true);
    r.release();
    r.release();
    expect(r.alive).toBe(false);
    expect(() => r.value).toThrow(InvalidArgumentError);
    heap.collect();
    expect(heap.isLive(obj)).toBe(false);
  });

  it('Symbol.dispose releases (for `using`), and set() re-targets a root', () => {
    const { heap, Node } = setup();
    const a = Node.alloc();
    const r = heap.root(a);
    const b = Node.alloc();
    r.set(b);
    heap.collect();
    expect([heap.isLive(a), heap.isLive(b)]).toEqual([false, true]);
    r[Symbol.dispose]();
    heap.collect();
    expect(heap.isLive(b)).toBe(false);
  });

  it('`using r = heap.root(x)` releases at the end of the block (outside and inside a scope)', () => {
    const { heap, Node } = setup();
    let a = 0;
    let b = 0;
    {
      using r = heap.root(Node.alloc());
      a = r.value;
      heap.collect();
      expect(heap.isLive(a)).toBe(true);
    }
    heap.scope(() => {
      {
        using r = heap.root(Node.alloc());
        b = r.value;
      }
      heap.collect();
      expect(heap.isLive(b)).toBe(false);
    });
    heap.collect();
    expect(heap.isLive(a)).toBe(false);
    expect(heap.stats().rootHandles).toBe(0);
  });

  it('a stale handle cannot release the slot reused by a newer root', () => {
    const { heap, Node } = setup();
    const old = heap.root(Node.alloc());
    old.release();
    const fresh = heap.root(Node.alloc()); // same slot, next generation
    old.release();
    heap.collect();
    expect(heap.isLive(fresh.value)).toBe(true);
  });

  it('the root table grows past its first 64 slots', () => {
    const { heap, Node } = setup();
    const roots: Root[] = [];
    for (let i = 0; i < 1000; i++) roots.push(heap.root(Node.alloc()));
    heap.collect();
    expect(heap.stats().liveObjects).toBe(1000);
    roots.forEach((r) => r.release());
    heap.collect();
    expect(heap.stats().liveObjects).toBe(0);
  });
});

describe('roots are slots in the buffer (no registry, no allocation but the handle)', () => {
  it('stats().rootHandles counts unscoped handles not released (not globals, not scoped handles)', () => {
    const { heap, Node } = setup();
    const a = heap.root(Node.alloc());
    const b = heap.root(Node.alloc());
    heap.setGlobal('g', Node.alloc());
    heap.scope(() => {
      heap.root(Node.alloc());
      expect(heap.stats().rootHandles).toBe(2);
    });
    b.release();
    expect(heap.stats().rootHandles).toBe(1);
    a.release();
    expect(heap.stats().rootHandles).toBe(0);
  });

  it("scoped roots: past the table's first 64 slots, releases inside, an outer escape, stale handles after", () => {
    const { heap, Node } = setup();
    const inner: Root[] = [];
    const kept = heap.scope((escape) => {
      const objs: number[] = [];
      for (let i = 0; i < 300; i++) {
        // past the stack's first 64 entries
        const r = heap.root(Node.alloc());
        objs.push(r.value);
        if (i % 2 === 1)
          r.release(); // its slot goes back at once
        else inner.push(r);
      }
      heap.collect();
      objs.forEach((o, i) => expect(heap.isLive(o)).toBe(i % 2 === 0));
      return heap.scope(() => escape(objs[0]!)); // escape from the outer scope's escape inside an inner scope
    });
    expect(inner.every((r) => !r.alive)).toBe(true);
    expect(() => inner[0]!.value).toThrow(InvalidArgumentError);
    heap.collect();
    expect(heap.stats().liveObjects).toBe(1);
    expect(kept.alive).toBe(true);
    expect(heap.stats().rootHandles).toBe(1); // escaped out of every scope: an unscoped root
    kept.release();
    heap.collect();
    expect(heap.stats().liveObjects).toBe(0);
    // an escaped root released before its scope ends stays released
    const dropped = heap.scope((escape) => {
      const r = escape(Node.alloc());
      r.release();
      return r;
    });
    expect(dropped.alive).toBe(false);
    expect(heap.stats().rootHandles).toBe(0);
    // a stale scoped handle does not touch the slot a later scope reuses
    heap.scope(() => {
      const r = heap.root(Node.alloc());
      inner[0]!.release();
      heap.collect();
      expect(heap.isLive(r.value)).toBe(true);
    });
  });
});

describe('scoped roots are root-table slots', () => {
  it('roots released inside a scope go back at once: a long loop does not grow the table', () => {
    const k = new Kmalloc({ bytes: 1 << 22 });
    const heap = new ManagedHeap({ backend: k, autoCollect: false });
    const Node = heap.defineType('Node', { next: 'ref' });
    const obj = Node.alloc();
    heap.setGlobal('obj', obj);
    heap.scope(() => {
      for (let i = 0; i < 100; i++) heap.root(obj).release();
    });
    const before = k.footprint();
    heap.scope(() => {
      for (let i = 0; i < 200_000; i++) heap.root(obj).release(); // 3.2 MB of slots if never given back
      const a = heap.root(obj);
      const b = heap.root(obj);
      a.release(); // out of order
      const c = heap.root(obj);
      c.release();
      b.release();
    });
    expect(k.footprint()).toBe(before);
  });

  it("releasing an outer scope's root inside an inner scope leaves the inner scope's roots", () => {
    const { heap, Node } = setup();
    heap.scope(() => {
      const outer = heap.root(Node.alloc());
      heap.scope(() => {
        outer.release();
        const inner = heap.root(Node.alloc());
        heap.collect();
        expect(heap.isLive(inner.value)).toBe(true);
      });
      heap.collect();
      expect(heap.stats().liveObjects).toBe(0); // the inner root ended with its scope
    });
  });
});

describe('scopes (HandleScope)', () => {
  it('roots made inside a scope are released when it ends, and its result escapes', () => {
    const { heap, Node } = setup();
    let inner = 0;
    const kept = heap.scope((escape) => {
      const a = heap.root(Node.alloc());
      const b = heap.root(Node.alloc());
      Node.fields.next.set(a.value, b.value);
      inner = b.value;
      b.release(); // released early: still fine
      heap.collect();
      expect(heap.isLive(inner)).toBe(true); // reachable from a
      return escape(a.value);
    });
    heap.collect();
    expect(heap.isLive(kept.value)).toBe(true);
    expect(Node.fields.next.get(kept.value)).toBe(inner);
    kept.release();
    heap.collect();
    expect(heap.stats().liveObjects).toBe(0);
  });

  it('nested scopes: escape roots in the enclosing scope, released when that one ends', () => {
    const { heap, Node } = setup();
    let escaped = 0;
    heap.scope(() => {
      const r = heap.scope((escape) => escape(Node.alloc()));
      escaped = r.value;
      heap.collect();
      expect(heap.isLive(escaped)).toBe(true);
    });
    heap.collect();
    expect(heap.isLive(escaped)).toBe(false);
  });

  it('a scope that throws still releases its roots and restores the shadow stack', () => {
    const { heap, Node } = setup();
    const outside = heap.root(Node.alloc());
    heap.pushRoot(outside.value);
    let made = 0;
    expect(() =>
      heap.scope(() => {
        made = heap.root(Node.alloc()).value;
        heap.pushRoot(Node.alloc());
        heap.pushRoot(Node.alloc());
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(heap.rootStackHeight).toBe(1);
    heap.collect();
    expect(heap.isLive(made)).toBe(false);
    expect(heap.stats().liveObjects).toBe(1);
  });
});

describe('global roots and the shadow stack', () => {
  it('named globals keep objects alive until deleted', () => {
    const { heap, Node } = setup();
    const a = Node.alloc();
    heap.setGlobal('config', a);
    heap.collect();
    expect(heap.getGlobal('config')).toBe(a);
    expect(heap.isLive(a)).toBe(true);
    const b = Node.alloc();
    heap.setGlobal('config', b);
    heap.collect();
    expect([heap.isLive(a), heap.isLive(b)]).toEqual([false, true]);
    expect(heap.deleteGlobal('config')).toBe(true);
    expect(heap.deleteGlobal('config')).toBe(false);
    heap.collect();
    expect(heap.isLive(b)).toBe(false);
    expect(heap.getGlobal('config')).toBe(0);
  });

  it('pushRoot/popRoot: LIFO roots; popping an empty stack throws', () => {
    const { heap, Node } = setup();
    const objs = Array.from({ length: 1000 }, () => Node.alloc());
    objs.forEach((o) => heap.pushRoot(o));
    heap.collect();
    expect(heap.stats().liveObjects).toBe(1000);
    for (let i = 999; i >= 500; i--) expect(heap.popRoot()).toBe(objs[i]);
    heap.collect();
    expect(heap.stats().liveObjects).toBe(500);
    while (heap.rootStackHeight > 0) heap.popRoot();
    expect(() => heap.popRoot()).toThrow(InvalidArgumentError);
  });
});

describe('the FinalizationRegistry backstop (debug: { rootLeaks: true })', () => {
  it('warns about (and releases) a root whose handle was dropped unreleased', () => {
    const script = `
      import { ManagedHeap } from './src/index.ts';
      const warned = [];
      const heap = new ManagedHeap({ bytes: 1 << 20, autoCollect: false, debug: { rootLeaks: true }, onLeakedRoot: (a) => warned.push(a) });
      const T = heap.defineType('T', { x: 'i32' });
      let obj = 0;
      // Released handles, dropped: no warning, also when their slot was taken again since.
      const kept = T.alloc();
      heap.setGlobal('kept', kept);
      (() => { for (let i = 0; i < 100; i++) heap.root(kept).release(); })();
      const again = heap.root(kept); // reuses the slot the released handles had
      (() => { obj = heap.root(T.alloc()).value; })();
      for (let i = 0; i < 20 && warned.length === 0; i++) {
        globalThis.gc();
        await new Promise((r) => setTimeout(r, 20));
      }
      for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
      heap.collect();
      console.log(JSON.stringify({ warned: warned.length === 1 && warned[0] === obj, live: heap.isLive(obj), again: again.alive && heap.isLive(kept) }));
    `;
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: new URL('../..', import.meta.url).pathname,
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ warned: true, live: false, again: true });
  });
});
