// Runs one service command as a child and ties its life to the parent's: the supervisor holds the write end of
// our stdin, so when the supervisor exits for any reason (even SIGKILL) stdin closes and we stop the service.
// Plain JavaScript on purpose: it starts with bare `node`, fast and without a loader, next to every JVM.
//
// usage: node child-watchdog.mjs <graceMs> <command> [args...]
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

const [graceArg, command, ...args] = process.argv.slice(2);
const graceMs = Number(graceArg);
if (!command || !Number.isFinite(graceMs)) {
  process.stderr.write('usage: child-watchdog.mjs <graceMs> <command> [args...]\n');
  process.exit(2);
}

// Same process group as us (the supervisor made us its leader), so a group signal reaches both.
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;

function stop(reason) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`[watchdog] ${reason}: sending SIGTERM to pid ${child.pid}\n`);
  child.kill('SIGTERM');
  setTimeout(() => {
    process.stderr.write(`[watchdog] pid ${child.pid} still alive after ${graceMs} ms: SIGKILL\n`);
    child.kill('SIGKILL');
  }, graceMs).unref();
}

process.stdin.on('end', () => stop('supervisor went away'));
process.stdin.on('error', () => stop('supervisor pipe broke'));
process.stdin.resume();
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGHUP', () => stop('SIGHUP'));

child.on('error', (error) => {
  process.stderr.write(`[watchdog] cannot start ${command}: ${error.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
});
