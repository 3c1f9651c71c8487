/**
 * Services a job kind runs beside the embedded local stack (the uploads kind's UCAN peers). A kind
 * declares the module in its plugin (`localServices`); `convoy local up` hands the modules of the
 * program's kinds to the daemon, which imports each and calls its `startLocalServices`. So the
 * local stack never imports a kind, and a kind's services start only where the kind is known.
 */
export interface LocalServices {
  /** named endpoints for stack.json (`convoy local status` lists them) */
  endpoints: Record<string, string>;
  close(): Promise<void>;
}

/** What a local-services module exports as `startLocalServices`. */
export type StartLocalServices = (opts: { stateDir: string }) => Promise<LocalServices>;
