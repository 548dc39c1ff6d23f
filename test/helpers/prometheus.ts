/** The samples of a Prometheus text exposition: `name{a="x",b="y"}` → value. */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** The value of one series (0 when absent), labels in any order. */
export function sampleOf(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels);
  for (const [series, value] of samples) {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(series);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (have.size === want.length && want.every(([k, v]) => have.get(k) === v)) return value;
  }
  return 0;
}

/** Distinct values of `label` across the series of `name`. */
export function labelValues(samples: Map<string, number>, name: string, label: string): Set<string> {
  const values = new Set<string>();
  for (const series of samples.keys()) {
    if (!series.startsWith(`${name}{`)) continue;
    const m = new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`).exec(series);
    if (m) values.add(m[1]!);
  }
  return values;
}
