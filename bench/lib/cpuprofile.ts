/**
 * Summary of a V8 CPU profile (`node --cpu-prof`, a .cpuprofile JSON): self time grouped by
 * package / file, over a time window, per request. Used by `npm run bench:profile`.
 *
 * Self time of a frame without a script (V8 builtins and natives such as JSON.parse or a socket
 * write) is given to the nearest caller that has one, so `graphql` includes the builtins graphql-js
 * calls; the VM's own entries stay apart: (garbage collector), (program) (V8 and native code
 * outside any JavaScript frame), (idle) (waiting in the event loop).
 */

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; parent?: number; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  ms: number;
  /** Share of the busy time (everything but idle), 0-1. */
  share: number;
  msPerRequest: number;
}

export interface ProfileSummary {
  /** Window actually covered, ms. */
  windowMs: number;
  samples: number;
  /** Busy (non-idle) sampled time, ms, and per request. */
  busyMs: number;
  busyMsPerRequest: number;
  idleMs: number;
  /** Whether the window [fromUs, toUs] matched the profile's clock (else the whole profile was used). */
  windowed: boolean;
  /** Coarse layers (graphql, Apollo Server, AWS SDK, ...). */
  layers: ProfileRow[];
  /** Packages and files. */
  modules: ProfileRow[];
  /** Functions (name, module, line). */
  functions: ProfileRow[];
}

const SPECIAL = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

/** A frame's module: a package name, a node: core module folder, or a project file. */
export function moduleOf(url: string, root: string): string {
  if (!url) return '(native)';
  if (url.startsWith('node:')) {
    const path = url.slice(5);
    const parts = path.split('/');
    return `node:${parts.length > 2 ? parts.slice(0, 2).join('/') : parts.length === 2 ? parts.join('/') : path}`;
  }
  let path = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    // Bundled submodules (@smithy/core/serde, @aws-sdk/core/protocols, ...) are told apart.
    const sub = /\/dist-(?:cjs|es)\/submodules\/([^/]+)\//.exec(path);
    return sub ? `${pkg}/${sub[1]}` : pkg;
  }
  const base = root.endsWith('/') ? root : `${root}/`;
  if (path.startsWith(base)) path = path.slice(base.length);
  // The variants run compiled JavaScript from dist/: name the source file.
  if (path.startsWith('dist/')) path = path.slice(5).replace(/\.js$/, '.ts');
  return path;
}

/** Coarse layer of a module. */
export function layerOf(module: string): string {
  if (module === '(garbage collector)') return 'GC';
  if (module === '(program)') return 'V8 / native (program)';
  if (module.startsWith('node:')) return 'Node.js core (node:*)';
  if (module === 'graphql') return 'graphql (graphql-js)';
  if (module.startsWith('@apollo/') || module.startsWith('@graphql-tools/') || module.startsWith('@escape.tech/')) return 'Apollo Server, schema tools, armor';
  if (module.startsWith('@smithy/') || module.startsWith('@aws-sdk/') || module.startsWith('@aws-crypto/')) return 'AWS SDK (@aws-sdk, @smithy)';
  if (module === 'dataloader') return 'dataloader';
  if (module.startsWith('src/')) return 'project src/';
  if (module === 'bench/lib/replay.ts') return 'replay handler (bench/lib/replay.ts)';
  if (module.startsWith('bench/')) return 'bench/ (raw handlers, instrumentation)';
  return 'other packages';
}

function rows(map: Map<string, number>, busy: number, requests: number, top: number): ProfileRow[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / busy, msPerRequest: us / 1000 / requests }));
}

export function summarizeProfile(p: CpuProfile, opts: { fromUs?: number; toUs?: number; requests: number; root: string; top?: number }): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Module and function of each node: frames without a script take their caller's.
  const owner = new Map<number, { module: string; fn: string }>();
  const ownerOf = (id: number): { module: string; fn: string } => {
    const known = owner.get(id);
    if (known) return known;
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    let o: { module: string; fn: string };
    if (SPECIAL.has(functionName)) o = { module: functionName, fn: functionName };
    else if (!url) {
      const up = parent.get(id);
      const caller = up !== undefined && !SPECIAL.has(byId.get(up)!.callFrame.functionName) ? ownerOf(up) : undefined;
      o = caller ? { module: caller.module, fn: `${functionName || '(anonymous)'} [native] <- ${caller.fn}` } : { module: '(native)', fn: functionName || '(anonymous)' };
    } else {
      const module = moduleOf(url, opts.root);
      o = { module, fn: `${functionName || '(anonymous)'} ${module}:${lineNumber + 1}` };
    }
    owner.set(id, o);
    return o;
  };

  let t = p.startTime;
  const from = opts.fromUs ?? -Infinity;
  const to = opts.toUs ?? Infinity;
  // The window must overlap the profile (same monotonic clock); otherwise use everything.
  const windowed = opts.fromUs !== undefined && opts.toUs !== undefined && opts.fromUs >= p.startTime - 1e6 && opts.toUs <= p.endTime + 1e6;
  const modules = new Map<string, number>();
  const layers = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let samples = 0;
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (windowed && (t < from || t > to)) continue;
    // The time up to the next sample is this sample's.
    const dt = p.timeDeltas[i + 1] ?? 0;
    const o = ownerOf(p.samples[i]!);
    samples++;
    first = Math.min(first, t);
    last = Math.max(last, t);
    if (o.module === '(idle)') {
      idle += dt;
      continue;
    }
    if (o.module === '(root)') continue;
    busy += dt;
    modules.set(o.module, (modules.get(o.module) ?? 0) + dt);
    const layer = layerOf(o.module);
    layers.set(layer, (layers.get(layer) ?? 0) + dt);
    functions.set(o.fn, (functions.get(o.fn) ?? 0) + dt);
  }
  const top = opts.top ?? 25;
  return {
    windowMs: (last - first) / 1000,
    samples,
    busyMs: busy / 1000,
    busyMsPerRequest: busy / 1000 / opts.requests,
    idleMs: idle / 1000,
    windowed,
    layers: rows(layers, busy, opts.requests, 50),
    modules: rows(modules, busy, opts.requests, top),
    functions: rows(functions, busy, opts.requests, top),
  };
}
