#!/usr/bin/env node
/**
 * Entry point of the `memkit` command (the package's `bin`). See
 * `memkit --help`; the work is in {@link run}.
 *
 * @module
 */
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
