export const ROOT: string;
export const COMPILED_ENTRY: string;
export const SOURCE_ENTRY: string;
export function newestSourceTime(directory?: string): number;
export function compiledState(): 'missing' | 'stale' | 'fresh';
