/** How two sample arrays of the same length differ: the largest |a − b| and how many samples differ at all. */
export function sampleDifferences(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; differing: number } {
  let max = 0,
    differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > max) max = d;
    if (d) differing++;
  }
  return { max, differing };
}
