/**
 * Calls one function of a runner's Python module and returns its JSON result, for the runners' unit tests: no
 * PySpark or PyFlink needed, since the runners import them only to run a job. The module is loaded from its file
 * with the jobs directory on the path, as when it runs as a script, so `runner_support` resolves.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { JOBS_DIR } from './control/jobs-config.ts';

export interface PythonCall {
  status: number | null;
  /** The function's result (JSON), when it returned. */
  out: unknown;
  stderr: string;
}

/** `fn(*args)` of `module` (a file of the jobs directory, e.g. `runner.py`) under `env` and nothing else but PATH. */
export function callPython(
  module: string,
  fn: string,
  args: unknown[],
  env: Record<string, string> = {},
): PythonCall {
  const file = path.join(JOBS_DIR, module);
  const code = [
    'import importlib.util, json, sys',
    `sys.path.insert(0, ${JSON.stringify(JOBS_DIR)})`,
    `spec = importlib.util.spec_from_file_location("m", ${JSON.stringify(file)})`,
    'm = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)',
    `print(json.dumps(getattr(m, ${JSON.stringify(fn)})(*json.loads(sys.argv[1]))))`,
  ].join('\n');
  const r = spawnSync('python3', ['-c', code, JSON.stringify(args)], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { status: r.status, out: r.status === 0 ? JSON.parse(r.stdout) : undefined, stderr: r.stderr };
}
