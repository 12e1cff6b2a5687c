"""What runner.py (Spark) and flink_runner.py (Flink) both need, in one place: result files, the driver lock,
whether a process still runs, and the Kafka login options of a plan.

Imported by name: each runner runs as a script from this directory, which Python puts first on sys.path (a Spark
driver in client mode runs runner.py the same way). Standard library only, like the runners' own top level.
"""

import json
import os

# The Kafka client's login modules. The Flink SQL connector jar shades the client: it passes its own package.
KAFKA_PACKAGE = "org.apache.kafka"


def write_lines(path, rows):
    """One JSON object per line (the job-test result files)."""
    with open(path, "w", encoding="utf-8") as out:
        for r in rows:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_json(path, value):
    """`value` as JSON at `path`, replaced whole (a reader never sees half a status file)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f)
    os.replace(tmp, path)


def proc_stat(pid):
    """The fields of /proc/<pid>/stat after the command name (state first, start time at index 19), None when the
    process is gone or off Linux."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2 :].split(" ")
    except (OSError, ValueError):
        return None


def proc_start_time(pid):
    """Start time of a process (/proc/<pid>/stat field 22), None when it is gone or off Linux."""
    fields = proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def pid_alive(pid, start_time=None):
    """Whether `pid` runs: exists, is not a zombie (killed, not reaped yet: its launcher's supervisor may take a
    moment) and, if given, started at `start_time` (not another process given the same pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = proc_stat(pid)
    if fields and fields[0] == "Z":
        return False
    return not start_time or proc_start_time(pid) in (None, start_time)


def release_lock(lock_file, owner_pid):
    """Removes the driver lock (driver-lock.ts) if it still names `owner_pid`."""
    if not lock_file:
        return
    try:
        with open(lock_file, encoding="utf-8") as f:
            if json.load(f).get("pid") == owner_pid:
                os.remove(lock_file)
    except (OSError, ValueError):
        pass


def read_secret(file_name, env_name, what, prog):
    """A password from the file the plan names (its first line), else from this process's environment: the plan
    and every log the launcher writes hold the file's path only. None found: exits, naming both places."""
    if file_name:
        with open(file_name, encoding="utf-8") as f:
            lines = f.read().splitlines()
        password = lines[0] if lines else ""
    else:
        password = os.environ.get(env_name, "")
    if not password:
        raise SystemExit(f"{prog}: the plan's {what} has no password ({env_name} or its _FILE)")
    return password


def kafka_security(kafka, prefix, prog, package=KAFKA_PACKAGE):
    """The plan's Kafka security (jobs-config.ts, the one client-security contract of common/client-security.ts) as
    Kafka client properties under `prefix` (Spark's `kafka.`, Flink's `properties.`): protocol, SASL login through
    `package`'s login modules, PEM truststore. Both engines hide the JAAS config and passwords in their logs."""
    sec = kafka.get("security") or {"protocol": "PLAINTEXT"}
    opts = {f"{prefix}security.protocol": sec["protocol"]}
    sasl = sec.get("sasl")
    if sasl:
        password = read_secret(sasl.get("passwordFile"), "KAFKA_SASL_PASSWORD", "Kafka SASL login", prog)

        def q(v):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

        module = (f"{package}.common.security.plain.PlainLoginModule" if sasl["mechanism"] == "PLAIN"
                  else f"{package}.common.security.scram.ScramLoginModule")
        opts[f"{prefix}sasl.mechanism"] = sasl["mechanism"]
        opts[f"{prefix}sasl.jaas.config"] = f"{module} required username={q(sasl['username'])} password={q(password)};"
    if sec.get("caFile"):
        opts[f"{prefix}ssl.truststore.type"] = "PEM"
        opts[f"{prefix}ssl.truststore.location"] = sec["caFile"]
    return opts
