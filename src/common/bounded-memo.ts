// A string-keyed memo with a size cap, for per-request conversions whose inputs repeat (header
// and variable names): the first `limit` distinct keys are remembered, later ones computed each
// time, so hostile input cannot grow it without bound.
export function boundedMemo<T>(compute: (key: string) => T, limit = 512): (key: string) => T {
  const known = new Map<string, T>();
  return (key) => {
    let value = known.get(key);
    if (value === undefined) {
      value = compute(key);
      if (known.size < limit) known.set(key, value);
    }
    return value;
  };
}
