// Shared by the relay interop scripts (relay-ping.mjs, peer-mq.mjs): JSON-line output, argument
// checks, a js-libp2p 3 node that holds a reservation on a relay, and a ping through a circuit.

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const RESERVE_TIMEOUT_MS = 15_000
const PING_TIMEOUT_MS = 15_000

export const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n')
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const isCircuit = (ma) => ma.getComponents().some((c) => c.name === 'p2p-circuit')
const endsInPeerId = (ma) => ma.getComponents().at(-1)?.name === 'p2p'

/** Reports `err` as the `error` event and exits 1. */
export function fail (err) {
  console.error(err)
  emit({ event: 'error', message: err?.message ?? String(err) })
  process.exit(1)
}

/**
 * The two arguments `<relay>/p2p/<RELAY> <relay>/p2p/<RELAY>/p2p-circuit/p2p/<TARGET>` as
 * multiaddrs (bad usage exits 2); also arms the global timeout and keeps stray background errors
 * of js-libp2p from ending the run without a JSON line.
 */
export function relayArgs (script, timeoutMs) {
  const [relayArg, targetArg] = process.argv.slice(2)
  if (relayArg == null || targetArg == null || process.argv.length > 4) {
    console.error(`usage: node --import ./polyfill.mjs ${script} <relay-multiaddr>/p2p/<RELAY> <relay-multiaddr>/p2p/<RELAY>/p2p-circuit/p2p/<TARGET>`)
    process.exit(2)
  }
  setTimeout(() => fail(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs)
  process.on('unhandledRejection', (err) => console.error('unhandled rejection:', err))
  const relay = multiaddr(relayArg)
  const target = multiaddr(targetArg)
  if (!endsInPeerId(relay) || isCircuit(relay)) {
    throw new Error(`relay address must end in /p2p/<RELAY> and not be a circuit: ${relayArg}`)
  }
  if (!isCircuit(target) || !endsInPeerId(target)) {
    throw new Error(`target address must be <relay>/p2p-circuit/p2p/<TARGET>: ${targetArg}`)
  }
  return { relay, target }
}

/**
 * A node without a TCP listener that holds a reservation on `relay` (listening on
 * `<relay>/p2p-circuit`); `setup(node)` runs before the reservation is reported, e.g. to register
 * handlers. Emits `{"event":"reserved","peer_id","addrs"}`.
 */
export async function reservedNode (relay, setup = async () => {}) {
  // Starting the node dials the relay and makes the reservation; start() rejects if the relay
  // cannot be reached or refuses the reservation.
  const listenAddr = relay.encapsulate('/p2p-circuit').toString()
  const node = await createLibp2p({
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
  await setup(node)

  // The reservation is held once our own addresses include a /p2p-circuit address.
  const deadline = Date.now() + RESERVE_TIMEOUT_MS
  while (!node.getMultiaddrs().some(isCircuit)) {
    if (Date.now() > deadline) throw new Error('no /p2p-circuit address after the reservation window')
    await sleep(100)
  }
  emit({ event: 'reserved', peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })
  return node
}

/**
 * Pings `target` through the relay, retrying until the deadline (the relayed connection is
 * limited, so the stream must be allowed on limited connections). Emits `{"event":"ping","rtt_ms"}`.
 */
export async function pingThrough (node, target) {
  const deadline = Date.now() + PING_TIMEOUT_MS
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now()
    try {
      const rtt = await node.services.ping.ping(target, {
        runOnLimitedConnection: true,
        signal: AbortSignal.timeout(Math.max(Math.min(left, 5_000), 1))
      })
      emit({ event: 'ping', rtt_ms: rtt })
      return
    } catch (err) {
      console.error(`ping attempt ${attempt} failed:`, err?.message ?? err)
      if (Date.now() + 500 >= deadline) throw new Error(`ping through relay failed: ${err?.message ?? err}`)
      await sleep(500)
    }
  }
}
