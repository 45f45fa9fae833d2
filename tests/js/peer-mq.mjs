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

import { emit, fail, pingThrough, relayArgs, reservedNode } from './relay-node.mjs'

const MQ = '/goop/mq/1.0.0'
const MAX_LINE = 1024 * 1024
// The exact line of peer.md §15.1 check 2.
const MSG_LINE = '{"type":"msg","id":"6b0f3a2e-3f7c-4a54-9d8e-2b1f4c9a7e10","seq":1,"topic":"chat","payload":{"content":"hello from js"}}\n'

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

let node
try {
  const { relay, target } = relayArgs('peer-mq.mjs', 45_000)

  // Every message from TARGET is acked as goop2 does (same id and seq); the first chat one is reported.
  let received
  const incoming = new Promise((resolve) => { received = resolve })
  node = await reservedNode(relay, (node) => node.handle(MQ, async (stream) => {
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
  }, { runOnLimitedConnection: true }))

  await pingThrough(node, target)

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
