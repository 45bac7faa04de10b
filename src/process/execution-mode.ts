/**
 * The one place where sync or async is decided (OGC 18-062r2 clause 7.11.2.3,
 * ogcapi-processes.md §2 "Execution mode" and §3.4).
 */
export interface ModeDecision {
  mode: 'sync' | 'async';
  /** Value for the `Preference-Applied` header, when a preference was honoured. */
  preferenceApplied?: string;
}

/**
 * - no usable preference: sync when the process offers sync-execute, else async;
 * - `Prefer: respond-async`: async when offered (the ETS's testJobResults requires 201), else sync.
 * The header is split on commas and trimmed, so `"respond-async "` (the ETS) and
 * `"respond-async, wait=10"` both count; unknown tokens (OWSLib's `respond-sync`) are ignored.
 */
export function decideExecutionMode(jobControlOptions: readonly string[], prefer: string | undefined): ModeDecision {
  const canSync = jobControlOptions.includes('sync-execute');
  const canAsync = jobControlOptions.includes('async-execute');
  const preferences = (prefer ?? '')
    .split(',')
    .map((p) => p.split(';')[0].trim().toLowerCase())
    .filter(Boolean);
  const wantsAsync = preferences.includes('respond-async');
  if (wantsAsync && canAsync) return { mode: 'async', preferenceApplied: 'respond-async' };
  if (canSync) return { mode: 'sync' };
  return { mode: 'async' };
}
