/**
 * Values a process keeps per context and key: a run's description of its source and destination,
 * its share of a limit, its rate control. Keyed by the context first (a WeakMap: they go with it),
 * then by a string such as a run id. A run id alone is not unique within a process: tests that
 * share a process between files, or a demo that starts a second stack, reuse run ids like `r1`
 * against other tables and endpoints, and must never see each other's values.
 */
export class PerContext<V> {
  readonly #byContext = new WeakMap<object, Map<string, V>>();

  /** The context's own map (created empty on first use). */
  of(ctx: object): Map<string, V> {
    let values = this.#byContext.get(ctx);
    if (!values) {
      values = new Map();
      this.#byContext.set(ctx, values);
    }
    return values;
  }

  /** The context's value for `key`, made by `make` on first use. */
  get(ctx: object, key: string, make: () => V): V {
    const values = this.of(ctx);
    let value = values.get(key);
    if (value === undefined) {
      value = make();
      values.set(key, value);
    }
    return value;
  }

  /**
   * `get` for values that are promises of a lookup (a table's key schema, a source's columns):
   * the first caller's promise is shared by every caller until it settles, and forgotten if it
   * rejects, so a failed lookup (a throttle, a table not yet there) is tried again by the next item
   * instead of failing every item of the run from then on.
   */
  memo<T>(this: PerContext<Promise<T>>, ctx: object, key: string, make: () => Promise<T>): Promise<T> {
    return this.get(ctx, key, () => {
      const made = make();
      made.catch(() => {
        const values = this.of(ctx);
        if (values.get(key) === made) values.delete(key);
      });
      return made;
    });
  }
}
