/**
 * The one-write adapter against Socket.IO's own in-memory adapter: the same bytes reach a websocket viewer, for
 * frames of every header size (payload ≤ 125, ≤ 65535 and above), in one socket write instead of two.
 */
import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket as TcpSocket } from 'node:net';
import { Server } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { framesInOneBuffer, OneWriteAdapter } from './one-write-adapter.ts';

interface Running {
  io: Server;
  http: HttpServer;
  /** `write` calls on the server's side of each TCP connection. */
  writes: { count: number };
  url: string;
}

const running: Running[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  for (const r of running.splice(0)) await new Promise<void>((resolve) => r.io.close(() => resolve()));
});

async function start(adapter: typeof Adapter): Promise<Running> {
  const http = createServer();
  const writes = { count: 0 };
  http.on('connection', (socket: TcpSocket) => {
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = ((...args: unknown[]) => {
      writes.count++;
      return write(...args);
    }) as TcpSocket['write'];
  });
  const io = new Server(http, { serveClient: false, perMessageDeflate: false, adapter });
  io.on('connection', (socket) => {
    void socket.join('room');
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  const r = { io, http, writes, url: `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket` };
  running.push(r);
  return r;
}

/** A websocket viewer speaking the wire protocol; resolves once connected to `/` (and so in `room`). */
async function viewer(url: string): Promise<{ next(): Promise<string> }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  clients.push(ws);
  const inbox: string[] = [];
  let wake: (() => void) | undefined;
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    if (text.startsWith('0')) ws.send('40');
    else {
      inbox.push(text);
      wake?.();
    }
  });
  const next = async () => {
    while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return inbox.shift() as string;
  };
  expect(await next()).toMatch(/^40/);
  return { next };
}

// Payloads whose frames have a 2-, 4- and 10-byte header; emoji for multi-byte UTF-8.
const payloads = [
  { counts: { '🔥': 1 } },
  { counts: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`e${i}🔥`, i])) },
  { blob: '😂'.repeat(20_000) },
];

describe('OneWriteAdapter', () => {
  it('finds the frame step it hooks in this Socket.IO', () => {
    expect(framesInOneBuffer).toBe(true);
  });

  it('sends the same bytes as the in-memory adapter, in one write per viewer instead of two', async () => {
    const plain = await start(Adapter);
    const oneWrite = await start(OneWriteAdapter);
    const a = await viewer(plain.url);
    const b = await viewer(oneWrite.url);
    for (const payload of payloads) {
      const [plainBefore, oneWriteBefore] = [plain.writes.count, oneWrite.writes.count];
      plain.io.to('room').emit('swarm', payload);
      oneWrite.io.to('room').emit('swarm', payload);
      const [got, want] = [await b.next(), await a.next()];
      expect(got).toBe(want);
      expect(JSON.parse(got.slice(2))).toEqual(['swarm', payload]);
      expect(plain.writes.count - plainBefore).toBe(2);
      expect(oneWrite.writes.count - oneWriteBefore).toBe(1);
    }
  });

  it('keeps volatile, except and acknowledged broadcasts working', async () => {
    const server = await start(OneWriteAdapter);
    const v = await viewer(server.url);
    server.io.to('room').volatile.emit('swarm', 1);
    expect(await v.next()).toBe('42["swarm",1]');
    server.io.to('room').except('room').emit('swarm', 2);
    server.io.to('room').emit('swarm', 3);
    expect(await v.next()).toBe('42["swarm",3]');
  });
});
