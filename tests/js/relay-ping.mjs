// js-libp2p side of the hub relay interop test.
//
//   node --import ./polyfill.mjs relay-ping.mjs <relay-addr>/p2p/<RELAY> <relay-addr>/p2p/<RELAY>/p2p-circuit/p2p/<TARGET>
//
// Reserves a slot on the relay (listening on <relay>/p2p-circuit, no TCP listener), then
// pings TARGET through the relay. stdout carries exactly these JSON lines:
//   {"event":"reserved","peer_id":"…","addrs":["…/p2p-circuit/p2p/…"]}
//   {"event":"ping","rtt_ms":12}
// or, on failure, {"event":"error","message":"…"} (exit 1). Bad usage exits 2.
// Diagnostics go to stderr (DEBUG=libp2p:* for js-libp2p's own logs).

import { fail, pingThrough, relayArgs, reservedNode } from './relay-node.mjs'

let node
try {
  const { relay, target } = relayArgs('relay-ping.mjs', 30_000)
  node = await reservedNode(relay)
  await pingThrough(node, target)
  await node.stop()
  process.exit(0)
} catch (err) {
  await node?.stop().catch(() => {})
  fail(err)
}
