/**
 * A component whose health decides whether this process should receive traffic: the
 * database, the queue, blob storage. Each adapter that talks to a server provides one;
 * `GET /ready` (src/health) runs them.
 */
export interface ReadinessCheck {
  readonly name: string;
  /** Where the component lives (a masked URL, a directory), shown to operators. */
  readonly target: string;
  check(signal: AbortSignal): Promise<void>;
}
