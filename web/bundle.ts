/**
 * The browser code of the pages, bundled by esbuild from the TypeScript in this repo (the viewer page runs the
 * project's own viewer client, fanout/client/viewer-client.ts). Built once on first request and kept in memory;
 * a failed build is not kept, so the next request tries again after the source is fixed. Nothing is written to
 * disk and no bundle is committed.
 */
import { fileURLToPath } from 'node:url';
import { type BuildFailure, build, stop as stopEsbuild } from 'esbuild';

/** The page entries, by output name. */
const ENTRIES = {
  viewer: fileURLToPath(new URL('./viewer/viewer-page.ts', import.meta.url)),
  dashboard: fileURLToPath(new URL('./dashboard/dashboard-page.ts', import.meta.url)),
} as const;

/** Name of a bundled page. */
export type PageName = keyof typeof ENTRIES;

/** One built file: `viewer.js`, `dashboard.css`, … */
export interface BundleFile {
  contentType: string;
  body: Uint8Array;
}

/** The bundle, by file name. */
export type Bundle = ReadonlyMap<string, BundleFile>;

/** The bundle could not be built; `message` carries esbuild's first errors with file and line. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
  readonly retriable = false;
}

async function buildAll(): Promise<Bundle> {
  try {
    const result = await build({
      entryPoints: ENTRIES,
      bundle: true,
      write: false,
      outdir: 'out',
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      sourcemap: false,
      // The viewer client is written for Node and the browser alike; its EventEmitter comes from the `events`
      // package here, which is Node's own API for browsers.
      alias: { 'node:events': 'events' },
      logLevel: 'silent',
      legalComments: 'none',
    });
    // esbuild keeps its service process (about 40 MB) for further builds; the bundle is kept in memory and built
    // again only after a failure, which starts the service again.
    await stopEsbuild();
    const files = new Map<string, BundleFile>();
    for (const file of result.outputFiles) {
      const name = file.path.split(/[\\/]/).at(-1) ?? '';
      const contentType = name.endsWith('.css')
        ? 'text/css; charset=utf-8'
        : 'text/javascript; charset=utf-8';
      files.set(name, { contentType, body: file.contents });
    }
    return files;
  } catch (err) {
    await stopEsbuild();
    const failure = err as Partial<BuildFailure>;
    const detail =
      failure.errors
        ?.slice(0, 5)
        .map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`)
        .join('\n') ?? String(err);
    throw new BundleError(`the page bundle did not build:\n${detail}`, { cause: err });
  }
}

let cached: Promise<Bundle> | undefined;

/** The bundle, built on first call; a failure is thrown to this caller and the next call builds again. */
export function pageBundle(): Promise<Bundle> {
  if (cached === undefined) {
    const building = buildAll();
    cached = building;
    building.catch(() => {
      if (cached === building) cached = undefined;
    });
  }
  return cached;
}
