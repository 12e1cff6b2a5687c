/** A client message for tests of the window-state rule and its users; `partial` overrides any field. */
import type { SwarmMessage } from './socket-events.ts';

/** Epoch ms of the fixture window's start. */
export const T0 = 1_760_000_000_000;

/** One window of match A with one 🔥, emitted, written, routed and sent just after it ends. */
export function swarmMessage(partial: Partial<SwarmMessage> = {}): SwarmMessage {
  return {
    match_id: 'A',
    window_start: T0,
    window_end: T0 + 2000,
    counts: { '🔥': 1 },
    swarm: { '🔥': 1 },
    emitted_at: T0 + 2500,
    aggregated_at: T0 + 2550,
    routed_at: T0 + 2600,
    sent_at: T0 + 2700,
    ...partial,
  };
}
