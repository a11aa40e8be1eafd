/**
 * Reading trace files from disk (Node only): plain or gzip-compressed,
 * streamed chunk by chunk into a {@link TraceParser}.
 *
 * @module
 */
import type { Readable } from 'node:stream';
import { TraceFormatError } from './errors.js';
import { TraceParser, type Trace, type TraceReadOptions } from './trace.js';

/** True when the file starts with the gzip magic bytes `1f 8b`. */
async function isGzip(path: string): Promise<boolean> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r');
  try {
    const b = new Uint8Array(2);
    const { bytesRead } = await fh.read(b, 0, 2, 0);
    return bytesRead === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/**
 * Reads a trace file (gzip is detected from its first bytes, whatever the
 * name), streaming: memory use is the op arrays, not the file.
 *
 * @param path the file.
 * @param options `maxOps` stops reading after that many ops.
 * @throws TraceFormatError for a malformed trace, a file that cannot be read
 * or a broken gzip stream; the message starts with the file name.
 * @example
 * ```ts
 * const t = await readTrace('traces/gcc-cc1.rep.gz');
 * console.log(t.length, t.heapSize);
 * ```
 */
export async function readTrace(path: string, options: TraceReadOptions = {}): Promise<Trace> {
  // Node modules are imported here, not at the top, so that bundling memkit
  // for a browser (which never calls readTrace) does not pull them in.
  const [{ createReadStream }, { basename }, { createGunzip }] = await Promise.all([
    import('node:fs'),
    import('node:path'),
    import('node:zlib'),
  ]);
  const name = basename(path);
  let gz: boolean;
  try {
    gz = await isGzip(path);
  } catch (e) {
    throw new TraceFormatError(path, 0, `cannot read: ${(e as Error).message}`);
  }
  const parser = new TraceParser(name, options);
  const file = createReadStream(path, { highWaterMark: 1 << 16 });
  const stream: Readable = gz ? file.pipe(createGunzip()) : file;
  if (gz) file.on('error', (e) => stream.destroy(e));
  try {
    for await (const chunk of stream) {
      parser.push(chunk as Uint8Array);
      if (parser.done) break;
    }
  } catch (e) {
    if (e instanceof TraceFormatError) throw e;
    throw new TraceFormatError(name, 0, `cannot read${gz ? ' (gzip)' : ''}: ${(e as Error).message}`);
  } finally {
    file.destroy();
    stream.destroy();
  }
  return parser.finish();
}
