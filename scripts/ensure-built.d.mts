export const INPUTS: string[];
export const OUTPUTS: string[];
export const STAMP: string;
export interface Paths {
  inputs?: string[];
  outputs?: string[];
  stamp?: string;
}
export function newestInput(root: string, paths?: string[]): { path: string | undefined; mtimeMs: number };
export function staleness(root: string, paths?: Paths): { stale: false } | { stale: true; reason: string };
export function ensureBuilt(
  root?: string,
  opts?: Paths & { build?: (root: string) => boolean; force?: boolean; log?: (message: string) => void },
): boolean;
