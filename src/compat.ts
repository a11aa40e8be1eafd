/**
 * The few global types memkit's declarations name, declared here so that the
 * published `.d.ts` files type-check in any consumer setup (`skipLibCheck:
 * false`): a browser project (`lib: ["ES2022", "DOM"]`) has no `Disposable`
 * or `Symbol.dispose` (ES2022 predates explicit resource management), and a
 * Node project without the DOM lib has no `WebAssembly` namespace.
 *
 * The declarations are compatible with the ones they stand in for (TypeScript's
 * `lib.esnext.disposable`, `@types/node`, `lib.dom`): interfaces merge, and a
 * property declared twice has the same type. At run time this module is empty.
 *
 * @module
 */

declare global {
  interface SymbolConstructor {
    /** The method `using` calls at the end of a block (ES2026 explicit resource management). */
    readonly dispose: unique symbol;
  }

  /** An object that `using` can dispose. */
  interface Disposable {
    /** Releases what the object holds; `using` calls it at the end of the block. */
    [Symbol.dispose](): void;
  }

  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace WebAssembly {
    // A wasm linear memory: the part memkit reads. (Plain comments: the
    // DOM lib documents the same interface.)
    interface Memory {
      readonly buffer: ArrayBuffer;
      grow(delta: number): number;
    }
  }
}

export {};
