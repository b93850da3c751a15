/**
 * Finds the changes HAProxy refuses. `passes(excluded)` answers whether the desired state, with the
 * changes in `excluded` left out (kept at their last good value), is accepted. With every change
 * left out the state is the last good one; if even that fails, the cause is not among the changes and
 * nothing is returned. Otherwise one culprit at a time is found by halving the suspects, in about
 * log2(n) + 1 checks each, until what remains passes.
 */
export async function isolateRefused(changes: readonly string[], passes: (excluded: ReadonlySet<string>) => Promise<boolean>, maxCulprits = 16): Promise<string[]> {
  if (changes.length === 0 || !(await passes(new Set(changes)))) return [];
  const culprits: string[] = [];
  while (culprits.length < maxCulprits) {
    if (await passes(new Set(culprits))) break;
    // Leaving out every remaining suspect passes (the last good state did); narrow to one, keeping
    // left out the halves that were not enough on their own (they may hold further culprits).
    let suspects = changes.filter((c) => !culprits.includes(c));
    const out: string[] = [];
    while (suspects.length > 1) {
      const half = suspects.slice(0, Math.ceil(suspects.length / 2));
      if (await passes(new Set([...culprits, ...out, ...half]))) suspects = half;
      else {
        out.push(...half);
        suspects = suspects.slice(half.length);
      }
    }
    const found = suspects[0];
    if (found === undefined) break;
    culprits.push(found);
  }
  return culprits;
}
