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

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const GLOBAL_TIMEOUT_MS = 30_000
const RESERVE_TIMEOUT_MS = 15_000
const PING_TIMEOUT_MS = 15_000

const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const isCircuit = (ma) => ma.getComponents().some((c) => c.name === 'p2p-circuit')
const endsInPeerId = (ma) => ma.getComponents().at(-1)?.name === 'p2p'

function fail (err) {
  console.error(err)
  emit({ event: 'error', message: err?.message ?? String(err) })
  process.exit(1)
}

const [relayArg, targetArg] = process.argv.slice(2)
if (relayArg == null || targetArg == null || process.argv.length > 4) {
  console.error('usage: node --import ./polyfill.mjs relay-ping.mjs <relay-multiaddr>/p2p/<RELAY> <relay-multiaddr>/p2p/<RELAY>/p2p-circuit/p2p/<TARGET>')
  process.exit(2)
}

setTimeout(() => fail(new Error(`timed out after ${GLOBAL_TIMEOUT_MS / 1000} s`)), GLOBAL_TIMEOUT_MS)
// Stray background errors inside js-libp2p must not kill the run without a JSON line.
process.on('unhandledRejection', (err) => console.error('unhandled rejection:', err))

let node
try {
  const relay = multiaddr(relayArg)
  const target = multiaddr(targetArg)
  if (!endsInPeerId(relay) || isCircuit(relay)) {
    throw new Error(`relay address must end in /p2p/<RELAY> and not be a circuit: ${relayArg}`)
  }
  if (!isCircuit(target) || !endsInPeerId(target)) {
    throw new Error(`target address must be <relay>/p2p-circuit/p2p/<TARGET>: ${targetArg}`)
  }

  // Starting the node dials the relay and makes the reservation (the listen address below);
  // start() rejects if the relay cannot be reached or refuses the reservation.
  const listenAddr = relay.encapsulate('/p2p-circuit').toString()
  node = await createLibp2p({
    addresses: { listen: [listenAddr] },
    transports: [tcp(), circuitRelayTransport({ reservationCompletionTimeout: RESERVE_TIMEOUT_MS })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  }).catch((err) => {
    // start() wraps the listener's error in a long advice text: keep only the cause.
    const cause = err.message.split('\n').find((line) => line.includes(`${listenAddr}: `))?.split(`${listenAddr}: `)[1]
    throw new Error(`reservation on ${relay} failed: ${cause ?? err.message}`)
  })

  // The reservation is held once our own addresses include a /p2p-circuit address.
  const deadline = Date.now() + RESERVE_TIMEOUT_MS
  while (!node.getMultiaddrs().some(isCircuit)) {
    if (Date.now() > deadline) throw new Error('no /p2p-circuit address after the reservation window')
    await sleep(100)
  }
  emit({ event: 'reserved', peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })

  // Ping the target through the relay; the relayed connection is limited, so the stream
  // must be allowed on limited connections. Retry until PING_TIMEOUT_MS.
  const pingDeadline = Date.now() + PING_TIMEOUT_MS
  let rtt
  for (let attempt = 1; rtt == null; attempt++) {
    const left = pingDeadline - Date.now()
    try {
      rtt = await node.services.ping.ping(target, {
        runOnLimitedConnection: true,
        signal: AbortSignal.timeout(Math.max(Math.min(left, 5_000), 1))
      })
    } catch (err) {
      console.error(`ping attempt ${attempt} failed:`, err?.message ?? err)
      if (Date.now() + 500 >= pingDeadline) throw new Error(`ping through relay failed: ${err?.message ?? err}`)
      await sleep(500)
    }
  }
  emit({ event: 'ping', rtt_ms: rtt })

  await node.stop()
  process.exit(0)
} catch (err) {
  await node?.stop().catch(() => {})
  fail(err)
}
