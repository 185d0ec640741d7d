// Node defines the Web globals (Request, Response, Headers) lazily: the first touch loads undici,
// some 20 ms of start-up that a CGI process answering Hello never needs. The lazy Request and
// the light Response must still be real instances once anyone looks closely (instanceof, a
// method the fast path does not cover), so their prototype chains are completed only then.

/**
 * Makes `link()` run the first time anything looks past `proto` along its prototype chain (a
 * property `proto` does not have, `in`, `instanceof`, getPrototypeOf); `link` defines what it
 * must on `proto` and returns the prototype `proto` then inherits from. Until then a Proxy stands
 * in; after, the chain is plain again and costs nothing. Lookups that `proto` or the instance
 * answer themselves never trigger it, so the fast paths must keep to own properties.
 */
export function linkLater(proto: object, link: () => object): void {
  let linked: object | undefined;
  /** Links once; returns `proto`, to look again from: linking may define the very key asked for. */
  const complete = (): object => {
    if (!linked) {
      linked = link();
      Object.setPrototypeOf(proto, linked);
    }
    return proto;
  };
  const standIn = new Proxy(Object.create(null) as object, {
    get: (_target, key, receiver) => Reflect.get(complete(), key, receiver),
    set: (_target, key, value, receiver) => Reflect.set(complete(), key, value, receiver),
    has: (_target, key) => Reflect.has(complete(), key),
    getPrototypeOf: () => Object.getPrototypeOf(complete()),
  });
  Object.setPrototypeOf(proto, standIn);
}
