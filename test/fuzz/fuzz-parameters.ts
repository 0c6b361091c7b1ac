/**
 * Seed and run counts of the fuzz tests. CI runs a fixed seed with a moderate number of runs
 * so the files finish in seconds; `FUZZ_RUNS=20000 npx vitest run test/fuzz` runs every
 * property that many times, and `FUZZ_SEED` picks another seed (fast-check prints the seed
 * and path of any failure, to replay it).
 */
const FUZZ_SEED = 20261203;

const runsOverride = positiveInteger(process.env.FUZZ_RUNS);
const seedOverride = integer(process.env.FUZZ_SEED);

/** fast-check parameters: the fixed seed, and `ciRuns` runs unless FUZZ_RUNS overrides it. */
export function fuzzParameters(ciRuns: number): { seed: number; numRuns: number } {
  return { seed: seedOverride ?? FUZZ_SEED, numRuns: runsOverride ?? ciRuns };
}

/** vitest options of a fuzz test: the configured timeout in CI, an hour for long runs. */
export const FUZZ_TEST_OPTIONS: { timeout?: number } =
  runsOverride === undefined ? {} : { timeout: 3_600_000 };

function positiveInteger(text: string | undefined): number | undefined {
  const value = integer(text);
  return value !== undefined && value > 0 ? value : undefined;
}

function integer(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d+$/.test(text.trim())) return undefined;
  return Number(text);
}
