/** A part function for bullmq-parts-ended.test.ts (loaded by runPart from the build, not a test). */
export async function double(args: { n: number }): Promise<number> {
  await new Promise((r) => setTimeout(r, 200));
  return args.n * 2;
}
