/**
 * The swarm drawn on a 16:9 canvas: each emoji of a window rises `swarm` times across the stage, spread over the
 * window's two seconds, as the job sized it. Emojis are rendered once into sprites and then only blitted, and the
 * particle count is bounded, so 20 emoji kinds stay smooth; the frame loop runs on requestAnimationFrame.
 */
import type { SwarmWindow } from '../../common/socket-events.ts';

/** Most particles alive at once (the oldest go first beyond it). */
const MAX_PARTICLES = 2_000;
/** Most particles one emoji of one window spawns, whatever its swarm size. */
const MAX_PER_EMOJI = 120;
/** Windows whose spawned counts are remembered (a late update of an older window spawns only the difference). */
const WINDOWS_TRACKED = 8;
const SPRITE_PX = 72;
/** Spawns of one update are spread over this long, ms (a window's length). */
const SPREAD_MS = 2_000;

interface Particle {
  sprite: HTMLCanvasElement;
  x: number;
  bornAt: number;
  lifeMs: number;
  size: number;
  sway: number;
  phase: number;
}

/** A canvas that draws swarms. */
export class SwarmStage {
  readonly #canvas: HTMLCanvasElement;
  readonly #ctx: CanvasRenderingContext2D;
  readonly #sprites = new Map<string, HTMLCanvasElement>();
  /** window_start → emoji → particles spawned for it. */
  readonly #spawned = new Map<number, Map<string, number>>();
  #particles: Particle[] = [];
  #frame = 0;
  #frames = 0;
  #fpsSince = 0;
  /** Frames per second over the last second, for the corner readout. */
  fps = 0;
  onFps: (fps: number) => void = () => {};

  constructor(canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext('2d');
    if (ctx === null) throw new Error('this browser has no 2D canvas');
    this.#canvas = canvas;
    this.#ctx = ctx;
  }

  #sprite(emoji: string): HTMLCanvasElement {
    let sprite = this.#sprites.get(emoji);
    if (sprite === undefined) {
      sprite = document.createElement('canvas');
      sprite.width = SPRITE_PX;
      sprite.height = SPRITE_PX;
      const c = sprite.getContext('2d');
      if (c !== null) {
        c.font = `${Math.round(SPRITE_PX * 0.8)}px "Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji", sans-serif`;
        c.textAlign = 'center';
        c.textBaseline = 'middle';
        c.fillText(emoji, SPRITE_PX / 2, SPRITE_PX / 2 + 2);
      }
      // Bounded like everything else: a stream of distinct emojis cannot grow the cache without limit.
      if (this.#sprites.size >= 256) this.#sprites.clear();
      this.#sprites.set(emoji, sprite);
    }
    return sprite;
  }

  /** The latest state of a window: spawns what it adds over what was drawn for it already. */
  show(window: Pick<SwarmWindow, 'window_start' | 'swarm'>, now = performance.now()): void {
    let spawned = this.#spawned.get(window.window_start);
    if (spawned === undefined) {
      spawned = new Map();
      this.#spawned.set(window.window_start, spawned);
      while (this.#spawned.size > WINDOWS_TRACKED) {
        const oldest = Math.min(...this.#spawned.keys());
        this.#spawned.delete(oldest);
      }
    }
    const width = this.#canvas.width;
    for (const [emoji, size] of Object.entries(window.swarm)) {
      const want = Math.min(size, MAX_PER_EMOJI);
      const have = spawned.get(emoji) ?? 0;
      if (want <= have) continue;
      spawned.set(emoji, want);
      const sprite = this.#sprite(emoji);
      for (let i = have; i < want; i++) {
        this.#particles.push({
          sprite,
          x: 0.05 * width + Math.random() * 0.9 * width,
          bornAt: now + Math.random() * SPREAD_MS,
          lifeMs: 3_500 + Math.random() * 2_000,
          size: 44 + Math.random() * 36,
          sway: 10 + Math.random() * 30,
          phase: Math.random() * Math.PI * 2,
        });
      }
    }
    if (this.#particles.length > MAX_PARTICLES)
      this.#particles.splice(0, this.#particles.length - MAX_PARTICLES);
  }

  /** Removes every particle (another match was picked). */
  clear(): void {
    this.#particles = [];
    this.#spawned.clear();
  }

  /** Particles alive or waiting to rise. */
  get particles(): number {
    return this.#particles.length;
  }

  start(): void {
    const tick = (t: number) => {
      this.#draw(t);
      this.#frame = requestAnimationFrame(tick);
    };
    this.#frame = requestAnimationFrame(tick);
  }

  stop(): void {
    cancelAnimationFrame(this.#frame);
  }

  #draw(now: number): void {
    const { width, height } = this.#canvas;
    const ctx = this.#ctx;
    ctx.clearRect(0, 0, width, height);
    let alive = 0;
    for (const p of this.#particles) {
      const age = now - p.bornAt;
      if (age > p.lifeMs) continue;
      this.#particles[alive++] = p;
      if (age < 0) continue;
      const progress = age / p.lifeMs;
      const y = height + p.size - progress * (height + 2 * p.size);
      const x = p.x + Math.sin(p.phase + progress * 6) * p.sway;
      ctx.globalAlpha = progress > 0.8 ? (1 - progress) / 0.2 : 1;
      ctx.drawImage(p.sprite, x - p.size / 2, y - p.size / 2, p.size, p.size);
    }
    this.#particles.length = alive;
    ctx.globalAlpha = 1;
    this.#frames++;
    if (now - this.#fpsSince >= 1_000) {
      this.fps = Math.round((this.#frames * 1_000) / (now - this.#fpsSince));
      this.#frames = 0;
      this.#fpsSince = now;
      this.onFps(this.fps);
    }
  }
}
