/**
 * StreamedBytes: how many bytes of object bodies one worker process streams GET -> PUT at once,
 * whatever the number of transfers (--transfers counts objects). A copy waits for room for its
 * object's size before its GET; copies start in the order they asked (a large object is not
 * passed over for ever by small ones), and an object larger than the whole limit goes alone.
 *
 * Why: the transfer count that keeps small objects moving (64-128 in flight, one round trip each)
 * is far too many for large ones. bench:s3 (b) (200 x 8 MiB between two endpoints, 2 cores): at
 * 128 transfers convoy took 7.9 s and 18 ms of CPU per object, at 16 (128 MiB in flight) 6.2 s and
 * 11.9 ms: more streams at once do not move bytes faster once the cores or the link are busy, they
 * cut each socket's reads into smaller chunks (more events, more CPU per byte for the worker and the
 * endpoints) and hold more buffers. rclone's default is 4 transfers.
 *
 * Server-side copies (no bytes through the worker) and multipart uploads (bounded apart, by
 * copier.ts `largeUploads`) do not ask.
 */

/** The default per process: 16 objects of 8 MiB. */
export const STREAMED_BYTES_IN_FLIGHT = 128 * 1024 * 1024;

export class StreamedBytes {
  private used = 0;
  private readonly waiting: Array<{ bytes: number; start: () => void }> = [];

  constructor(private limitBytes: number) {}

  /** A new limit (`convoy worker --stream-bytes`); copies already streaming keep their room. */
  setLimit(bytes: number): void {
    this.limitBytes = bytes;
    this.startWaiting();
  }

  /**
   * Run `fn` once `bytes` (at most the limit) fit beside the copies already streaming. A copy still
   * waiting when `signal` aborts (its item's lease lost, the worker stopping) leaves the queue and
   * rejects with the signal's reason.
   */
  async run<T>(bytes: number, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const weight = Math.min(Math.max(bytes, 0), this.limitBytes);
    if (this.waiting.length === 0 && this.used + weight <= this.limitBytes) this.used += weight;
    else await this.waitForRoom(weight, signal);
    try {
      return await fn();
    } finally {
      this.used -= weight;
      this.startWaiting();
    }
  }

  /** bytes of the copies streaming now (for tests and metrics) */
  get inFlight(): number {
    return this.used;
  }

  /** copies waiting for room now (metrics) */
  get waitingCopies(): number {
    return this.waiting.length;
  }

  /** the limit in force (metrics) */
  get limit(): number {
    return this.limitBytes;
  }

  private waitForRoom(bytes: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        // the copies behind it may fit now
        this.startWaiting();
        reject(signal!.reason);
      };
      const entry = {
        bytes,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.waiting.push(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private startWaiting(): void {
    // a copy that asked for more than a lowered limit starts once it is alone
    while (this.waiting.length > 0 && (this.used === 0 || this.used + this.waiting[0]!.bytes <= this.limitBytes)) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.start();
    }
  }
}

/**
 * This worker process's: every s3-sync item it works shares it. Its limit is the default until the
 * kind's `configureWorkerProcess` applies `convoy worker --stream-bytes` (./plugin.ts).
 */
export const streamedBytes = new StreamedBytes(STREAMED_BYTES_IN_FLIGHT);
