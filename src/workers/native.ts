// Loads a private copy of the node-datachannel addon for this worker thread.
//
// Why a copy: the addon keeps its JS constructors in C++ statics that only the first JS
// environment of the process sets, so a second worker using the same dlopen handle aborts.
// A copy of the .node file at a unique path gets its own handle, statics and libdatachannel.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type NodeDataChannel from 'node-datachannel';

export type Native = typeof NodeDataChannel;
export type { PeerConnection, Track, DataChannel, RtcConfig } from 'node-datachannel';

const require = createRequire(import.meta.url);

function addonPath(): string {
  const pkg = `@node-datachannel/${process.platform}-${process.arch}${process.platform === 'linux' ? '-gnu' : ''}`;
  return join(dirname(require.resolve(`${pkg}/package.json`)), 'node_datachannel.node');
}

let loaded: Native | null = null;

/**
 * glibc's RTLD_NODELETE (Node does not name it). When a worker's environment is torn down Node
 * dlclose()s its addons, but libdatachannel's own threads may still be exiting and run
 * thread-local destructors from the library; unmapped code there crashes the process (seen as
 * SIGSEGV in __nptl_deallocate_tsd). With NODELETE the code stays mapped until the process exits.
 */
const RTLD_NODELETE = 0x1000;

export function loadNative(): Native {
  if (loaded) return loaded;
  const dir = mkdtempSync(join(tmpdir(), 'strand-ndc-'));
  const copy = join(dir, 'node_datachannel.node');
  copyFileSync(addonPath(), copy);
  try {
    const mod = { exports: {} as Native };
    const flags = constants.dlopen.RTLD_LAZY | (process.platform === 'linux' ? RTLD_NODELETE : 0);
    process.dlopen(mod, copy, flags);
    loaded = mod.exports;
  } finally {
    // The mapping stays valid after the file is unlinked. STRAND_KEEP_NATIVE_COPY=1 keeps the
    // file so that gdb can symbolise a core dump.
    if (!process.env.STRAND_KEEP_NATIVE_COPY) rmSync(dir, { recursive: true, force: true });
  }
  return loaded;
}

/** Reports an exception caught at a native callback boundary (set by the worker entry). */
let reportError: (where: string, err: unknown) => void = (where, err) => {
  console.error(`strand worker: exception in ${where}:`, err);
};

export function setNativeErrorReporter(fn: (where: string, err: unknown) => void): void {
  reportError = fn;
}

/**
 * Wraps a callback handed to native code. An exception escaping into libdatachannel's
 * threadsafe function aborts the whole process, so none may leave this wrapper.
 */
export function guard<A extends unknown[]>(where: string, fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (err) {
      try {
        reportError(where, err);
      } catch {
        // nothing more can be done without risking an abort
      }
    }
  };
}

/**
 * Native DataChannel and Track wrappers stay registered in node-datachannel's static instance
 * sets until their "closed" callback runs; their destructors do not unregister them. If the JS
 * wrapper is garbage-collected before that, cleanup() later walks a dangling pointer and the
 * process crashes (seen as SIGSEGV in DataChannelWrapper::doClose at shutdown). So every
 * wrapper is kept reachable here until libdatachannel reports it closed.
 */
const heldUntilClosed = new Set<object>();

interface ClosableNative {
  onClosed(cb: () => void): void;
}

/** Holds `obj` until its closed callback runs, then calls `onClosed` (if any). */
export function holdUntilClosed<T extends ClosableNative & object>(obj: T, where: string, onClosed?: () => void): T {
  heldUntilClosed.add(obj);
  obj.onClosed(guard(where, () => {
    heldUntilClosed.delete(obj);
    onClosed?.();
  }));
  return obj;
}

/** Native wrappers still waiting for their closed callback (for diagnostics and tests). */
export function heldNativeCount(): number {
  return heldUntilClosed.size;
}
