/**
 * The room adapter of a subscriber node: Socket.IO's in-memory adapter, with each broadcast's WebSocket frame in
 * one buffer, so a viewer costs one `write` per broadcast instead of a corked pair.
 *
 * Socket.IO already encodes a broadcast once: its adapter builds the WebSocket frame up front
 * (`WebSocket.Sender.frame`, as ws#617 recommends) and hands it to every websocket transport as
 * `wsPreEncodedFrame`, which `ws` writes with `sendFrame`. But an unmasked frame comes back as two buffers (the
 * 2–10 byte header and the payload), and `sendFrame` writes a pair as `cork(); write(header); write(payload);
 * uncork()` — a `writev` per viewer, which on Linux costs the node (and each receiver) markedly more than one
 * `write` of the same bytes (`npm run bench:fanout`: at 10k viewers the relay loop took 232 ms instead of 132).
 * This adapter joins the two buffers once per broadcast; the bytes on the wire are the same.
 *
 * Everything else — rooms, `except`, volatile, acks, polling viewers (they never use the pre-encoded frame) — is
 * the in-memory adapter's own. It hooks the one step that builds the frame (`_encode`, not part of the adapter's
 * typed surface): if a Socket.IO upgrade renames it, {@link framesInOneBuffer} is false and the node falls back
 * to the plain adapter, and `one-write-adapter.test.ts` fails so the upgrade is noticed.
 */
import { Adapter } from 'socket.io-adapter';

/** The packet options the in-memory adapter passes to every socket of a broadcast. */
interface BroadcastPacketOptions {
  /** The WebSocket frame, as `WebSocket.Sender.frame` returns it: `[header, payload]` when unmasked. */
  wsPreEncodedFrame?: Buffer[];
}

type EncodeStep = (this: Adapter, packet: unknown, options: BroadcastPacketOptions) => unknown;

const baseEncode = (Adapter.prototype as unknown as { _encode?: EncodeStep })._encode;

/** Whether this Socket.IO's adapter has the step the one-write adapter hooks. */
export const framesInOneBuffer = typeof baseEncode === 'function';

/** Socket.IO's in-memory adapter, writing each broadcast frame to a viewer in one `write` (module header). */
export class OneWriteAdapter extends Adapter {}

if (baseEncode !== undefined) {
  (OneWriteAdapter.prototype as unknown as { _encode: EncodeStep })._encode = function (packet, options) {
    const encoded = baseEncode.call(this, packet, options);
    const frame = options.wsPreEncodedFrame;
    if (frame !== undefined && frame.length > 1) options.wsPreEncodedFrame = [Buffer.concat(frame)];
    return encoded;
  };
}
