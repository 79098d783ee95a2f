// Errors and value readers shared by the configuration's parsers (config.ts, cluster/cluster-config.ts).

/** A configuration that cannot start Strand; its message names the key. */
export class ConfigError extends Error {}

export type Yaml = Record<string, unknown>;
export const isObject = (v: unknown): v is Yaml => v !== null && typeof v === 'object' && !Array.isArray(v);

export function num(v: unknown, path: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new ConfigError(`${path} must be a non-negative number`);
  return n;
}
export function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(`${path} must be true or false`);
  return v;
}
export function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ConfigError(`${path} must be a string`);
  return v;
}
export function strList(v: unknown, path: string): string[] {
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ConfigError(`${path} must be a list of strings`);
  return v as string[];
}
