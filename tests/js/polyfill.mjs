// Node 20 lacks a few ES2024 builtins that js-libp2p 3.x calls unconditionally.
// Load with: node --import ./polyfill.mjs <script>
// (Node >= 22 has all of them; each shim is only installed when missing.)

if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers () {
      let resolve, reject
      const promise = new this((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
