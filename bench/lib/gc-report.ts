/**
 * The young-generation study (`npm run bench:gc`, bench/run.ts gcStudy): medians over the runs of
 * each `--max-semi-space-size` of the project's server in replay, and its markdown.
 *
 * The machine is shared: between runs its speed drifts by up to 2x (raw's CPU per request, with
 * the same flags in every run, shows it). Absolute figures of different runs are therefore
 * compared through raw, which ran interleaved with the project in the same slices: the per-run
 * ratio project / raw is the figure to compare across settings; absolute medians are shown too.
 */

export interface GcRunRow {
  op: string;
  clients: number;
  variants: Record<'project' | 'raw', { p50: number; rps: number; cpuMsPerRequest: number }>;
  gcMsPerRequest?: Record<'project' | 'raw', { all: number; major: number }>;
}

export interface GcRun {
  semiSpaceMB: number;
  repeat: number;
  run: { rows: GcRunRow[]; levels: { clients: number; peakRssMB: Record<'project' | 'raw', number> }[] };
}

export interface GcCell {
  semiSpaceMB: number;
  clients: number;
  op: string;
  runs: number;
  /** Medians over the runs. */
  cpuMsPerRequest: number;
  rawCpuMsPerRequest: number;
  /** Median over the runs of project CPU / raw CPU in the same run. */
  cpuOverRaw: number;
  p50: number;
  /** Median over the runs of project p50 / raw p50 in the same run. */
  p50OverRaw: number;
  rps: number;
  /** Median main-thread GC pauses of the project's server per request (all, and mark-compact). */
  gcMsPerRequest: number;
  majorGcMsPerRequest: number;
}

export interface GcRss {
  semiSpaceMB: number;
  clients: number;
  /** Median peak RSS of the project's server, and every run's. */
  peakRssMB: number;
  all: number[];
}

function median(list: number[]): number {
  const s = [...list].sort((a, b) => a - b);
  const m = s.length / 2;
  return s.length % 2 ? s[Math.floor(m)]! : (s[m - 1]! + s[m]!) / 2;
}

export function aggregateGc(runs: GcRun[], sizes: number[], concurrency: number[], ops: string[]): { cells: GcCell[]; rss: GcRss[] } {
  const cells: GcCell[] = [];
  const rss: GcRss[] = [];
  for (const size of sizes) {
    const mine = runs.filter((r) => r.semiSpaceMB === size);
    for (const clients of concurrency) {
      const all = mine.map((r) => r.run.levels.find((l) => l.clients === clients)!.peakRssMB.project);
      rss.push({ semiSpaceMB: size, clients, peakRssMB: median(all), all });
      for (const op of ops) {
        const rows = mine.map((r) => r.run.rows.find((x) => x.op === op && x.clients === clients)!);
        const p = rows.map((x) => x.variants.project);
        const raw = rows.map((x) => x.variants.raw);
        cells.push({
          semiSpaceMB: size,
          clients,
          op,
          runs: rows.length,
          cpuMsPerRequest: median(p.map((x) => x.cpuMsPerRequest)),
          rawCpuMsPerRequest: median(raw.map((x) => x.cpuMsPerRequest)),
          cpuOverRaw: median(rows.map((x) => x.variants.project.cpuMsPerRequest / x.variants.raw.cpuMsPerRequest)),
          p50: median(p.map((x) => x.p50)),
          p50OverRaw: median(rows.map((x) => x.variants.project.p50 / x.variants.raw.p50)),
          rps: median(p.map((x) => x.rps)),
          gcMsPerRequest: median(rows.map((x) => x.gcMsPerRequest?.project.all ?? NaN)),
          majorGcMsPerRequest: median(rows.map((x) => x.gcMsPerRequest?.project.major ?? NaN)),
        });
      }
    }
  }
  return { cells, rss };
}

export function gcMarkdown(
  header: string,
  cfg: { semiSpacesMB: number[]; repeats: number; concurrency: number[]; ops: string[]; seconds: number; warmupSeconds: number; slices: number },
  cells: GcCell[],
  rss: GcRss[],
): string {
  const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
  const lines: string[] = [header, ''];
  lines.push(
    `**Young generation (\`--max-semi-space-size\`) of the project's server, in replay**: medians of ${cfg.repeats} runs per setting, the settings taken in a rotating order; ` +
      `each run a fresh pair of replaying servers per client count (raw with start:prod's flags, as the in-run control), ${cfg.seconds} s per cell and server in ${cfg.slices} interleaved slices ` +
      `after a ${cfg.warmupSeconds} s warm-up per operation. Per operation: project server CPU ms/request (raw's in the same runs) · project / raw CPU (median of the runs' ratios: the figure that survives the machine's drift) · project p50 ms (project / raw) · the project's GC pauses ms/request (main thread; of which mark-compact).`,
  );
  for (const clients of cfg.concurrency) {
    lines.push('');
    lines.push(`${clients} client${clients > 1 ? 's' : ''}:`);
    lines.push('');
    lines.push('| semi-space MB | ' + cfg.ops.map((op) => `${op}: CPU ms/req (raw) · CPU / raw · p50 ms (/ raw) · GC ms/req (major)`).join(' | ') + ' | project peak RSS MB, median (runs) |');
    lines.push('|---:|' + cfg.ops.map(() => '---:|').join('') + '---:|');
    for (const size of cfg.semiSpacesMB) {
      const cs = cfg.ops.map((op) => cells.find((c) => c.semiSpaceMB === size && c.clients === clients && c.op === op)!);
      const m = rss.find((x) => x.semiSpaceMB === size && x.clients === clients)!;
      lines.push(
        `| ${size} | ` +
          cs
            .map((c) => `${f2(c.cpuMsPerRequest)} (${f2(c.rawCpuMsPerRequest)}) · ${f2(c.cpuOverRaw)}x · ${f2(c.p50)} (${f2(c.p50OverRaw)}x) · ${f2(c.gcMsPerRequest)} (${f2(c.majorGcMsPerRequest)})`)
            .join(' | ') +
          ` | ${m.peakRssMB.toFixed(0)} (${m.all.map((x) => x.toFixed(0)).join(', ')}) |`,
      );
    }
  }
  return lines.join('\n') + '\n';
}
