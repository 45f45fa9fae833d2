// js-libp2p side of the peer interop test (peer.md §15.1).
//
//   node --import ./polyfill.mjs peer-mq.mjs <relay-addr>/p2p/<RELAY> <relay-addr>/p2p/<RELAY>/p2p-circuit/p2p/<TARGET>
//
// Reserves a slot on the hub relay (no TCP listener), pings TARGET through the circuit, sends it
// one `/goop/mq/1.0.0` message and reads its ack, then waits for a `chat` MQ message from TARGET
// and acks it. Every stream runs on the limited (relayed) connection. stdout carries exactly these
// JSON lines, in this order:
//   {"event":"reserved","peer_id":"…","addrs":["…/p2p-circuit/p2p/…"]}
//   {"event":"ping","rtt_ms":12}
//   {"event":"ack","line":"<the ack line TARGET wrote, without its newline>"}
//   {"event":"received","line":"<the message line TARGET wrote, without its newline>"}
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

const MQ = '/goop/mq/1.0.0'
const GLOBAL_TIMEOUT_MS = 45_000
const RESERVE_TIMEOUT_MS = 15_000
const PING_TIMEOUT_MS = 15_000
const MAX_LINE = 1024 * 1024
// The exact line of peer.md §15.1 check 2.
const MSG_LINE = '{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","seq":1,"topic":"chat","payload":{"content":"hello from js"}}\n'

const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const isCircuit = (ma) => ma.getComponents().some((c) => c.name === 'p2p-circuit')
const endsInPeerId = (ma) => ma.getComponents().at(-1)?.name === 'p2p'

function fail (err) {
  console.error(err)
  emit({ event: 'error', message: err?.message ?? String(err) })
  process.exit(1)
}

// Reads one `\n`-terminated line (returned without it) from a js-libp2p 3 stream.
async function readLine (stream) {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let text = ''
  for await (const chunk of stream) {
    text += decoder.decode(chunk.subarray(), { stream: true })
    const end = text.indexOf('\n')
    if (end >= 0) return text.slice(0, end)
    if (text.length > MAX_LINE) throw new Error('line over 1 MiB')
  }
  throw new Error(`stream ended before a line: ${JSON.stringify(text)}`)
}

const [relayArg, targetArg] = process.argv.slice(2)
if (relayArg == null || targetArg == null || process.argv.length > 4) {
  console.error('usage: node --import ./polyfill.mjs peer-mq.mjs <relay-multiaddr>/p2p/<RELAY> <relay-multiaddr>/p2p/<RELAY>/p2p-circuit/p2p/<TARGET>')
  process.exit(2)
}

setTimeout(() => fail(new Error(`timed out after ${GLOBAL_TIMEOUT_MS / 1000} s`)), GLOBAL_TIMEOUT_MS)
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

  const listenAddr = relay.encapsulate('/p2p-circuit').toString()
  node = await createLibp2p({
    addresses: { listen: [listenAddr] },
    transports: [tcp(), circuitRelayTransport({ reservationCompletionTimeout: RESERVE_TIMEOUT_MS })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  })

  // Every message from TARGET is acked as goop2 does (same id and seq); the first chat one is reported.
  let received
  const incoming = new Promise((resolve) => { received = resolve })
  await node.handle(MQ, async (stream) => {
    try {
      const line = await readLine(stream)
      const msg = JSON.parse(line)
      stream.send(new TextEncoder().encode(JSON.stringify({ type: 'ack', id: msg.id, seq: msg.seq }) + '\n'))
      await stream.close()
      // Our peer also sends `mq.ack` receipts for what it received (peer.md §5): acked, not reported.
      if (msg.topic === 'chat') received(line)
      else console.error(`acked a ${msg.topic} message`)
    } catch (err) {
      console.error('inbound mq stream:', err)
      stream.abort(err)
    }
  }, { runOnLimitedConnection: true })

  const deadline = Date.now() + RESERVE_TIMEOUT_MS
  while (!node.getMultiaddrs().some(isCircuit)) {
    if (Date.now() > deadline) throw new Error('no /p2p-circuit address after the reservation window')
    await sleep(100)
  }
  emit({ event: 'reserved', peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })

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

  const stream = await node.dialProtocol(target, MQ, { runOnLimitedConnection: true })
  stream.send(new TextEncoder().encode(MSG_LINE))
  const ack = await readLine(stream)
  await stream.close().catch(() => {})
  emit({ event: 'ack', line: ack })

  emit({ event: 'received', line: await incoming })
  await node.stop()
  process.exit(0)
} catch (err) {
  await node?.stop().catch(() => {})
  fail(err)
}
