"""Generic runner of EmoStream's jobs on Apache Flink (PyFlink Table API): the Flink twin of runner.py.

It executes the same resolved job plan (JSON written by jobs/spark-sql/control, with the job's Flink SQL) and
nothing else:

  stream --plan f.json            Kafka source table (registry-framed Avro read by Flink's avro-confluent format,
                                  watermark, dedupe) -> the SQL -> Kafka sink: registry-framed Avro values in the
                                  sink schema; append mode keyed by the sink key (text), update mode an upsert-kafka
                                  sink keyed by the plan's upsert key (JSON)
  batch --plan f.json … --out d   each plan's SQL over its fixtures in batch mode; writes <d>/<job>.jsonl (rows),
                                  <job>.columns.json (result columns, in the Spark runner's type names) and
                                  <job>.tests.json (failing rows of each data test)
  warm                            provisioning only: starts a small streaming job on the local mini-cluster (no
                                  Kafka), lets it run, cancels it and exits the JVM normally, so that a JVM started
                                  with -XX:ArchiveClassesAtExit (JVM_ARGS) writes the class-data archive every later
                                  start of the runner maps (see provisioner.ts)

The connector jars come from EMOSTREAM_FLINK_JARS (comma list, set by the launcher from the provisioned runtime);
the deployment's settings from the plan's `flink` part (stream: REST address of a cluster, else a local mini-cluster
in this process; parallelism; checkpoint interval).
"""

import argparse
import datetime
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

from runner_support import kafka_security, pid_alive, read_secret, release_lock, write_json, write_lines

# Flink SQL type of an Avro field type (the shapes the project's schemas use: primitives, logical timestamps,
# nullable unions). Timestamps are TIMESTAMP(3) in a UTC session: the avro formats' legacy mapping reads and writes
# timestamp-millis as UTC wall time.
AVRO_TO_FLINK = {"string": "STRING", "int": "INT", "long": "BIGINT", "float": "FLOAT", "double": "DOUBLE",
                 "boolean": "BOOLEAN"}
# The Spark runner's type names, so that job-test.ts checks columns of both engines against the sink schema alike.
FLINK_TO_SPARK = {"STRING": "string", "VARCHAR": "string", "CHAR": "string", "BIGINT": "bigint", "INT": "int",
                  "INTEGER": "int", "DOUBLE": "double", "FLOAT": "float", "BOOLEAN": "boolean",
                  "TIMESTAMP": "timestamp", "TIMESTAMP_LTZ": "timestamp"}


def flink_type(avro_type):
    """(Flink type, nullable) of an Avro field type."""
    if isinstance(avro_type, list):
        (t,) = [t for t in avro_type if t != "null"]
        return flink_type(t)[0], "null" in avro_type
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") in ("timestamp-millis", "timestamp-micros"):
            return "TIMESTAMP(3)", False
        return flink_type(avro_type["type"])
    if avro_type not in AVRO_TO_FLINK:
        raise SystemExit(f"Avro type {avro_type!r} is not supported")
    return AVRO_TO_FLINK[avro_type], False


def fields_of(schema_text):
    return [(f["name"], *flink_type(f["type"])) for f in json.loads(schema_text)["fields"]]


def q(name):
    return f"`{name}`"


def interval(text):
    """'10 seconds' -> INTERVAL '10' SECOND (Flink's interval literal)."""
    n, unit = text.split()
    return f"INTERVAL '{n}' {unit.upper().rstrip('S')}"


def duration(text):
    """'2 seconds' -> '2 s' (Flink's duration option syntax)."""
    n, unit = text.split()
    return f"{n} {unit.rstrip('s')}"


def quote_opt(value):
    return "'" + str(value).replace("'", "''") + "'"


def with_clause(options):
    return ",\n  ".join(f"{quote_opt(k)} = {quote_opt(v)}" for k, v in options.items())


def spark_type_name(data_type):
    base = re.match(r"^([A-Z_]+)", str(data_type).upper())
    name = base.group(1) if base else str(data_type)
    return FLINK_TO_SPARK.get(name, name.lower())


# The SQL connector jar shades the Kafka client: its login modules live under this package.
KAFKA_SHADED = "org.apache.flink.kafka.shaded.org.apache.kafka"


def kafka_security_properties(kafka):
    """`properties.*` options of the plan's Kafka security (runner_support.kafka_security; runner.py renders the same
    for Spark as `kafka.*`), through the shaded client's login modules. Flink hides option values whose key holds
    `jaas.config` or `password` in its logs."""
    return kafka_security(kafka, "properties.", "flink-runner", KAFKA_SHADED)


def registry_auth_options(plan, prefix):
    """`<prefix>basic-auth.*` options of the avro-confluent format: the registry's basic-auth user of the plan, its
    password read as Kafka's is (SCHEMA_REGISTRY_PASSWORD or the file the plan names). None: no options."""
    auth = plan.get("registryAuth")
    if not auth:
        return {}
    password = read_secret(auth.get("passwordFile"), "SCHEMA_REGISTRY_PASSWORD", "registry login", "flink-runner")
    return {f"{prefix}basic-auth.credentials-source": "USER_INFO",
            f"{prefix}basic-auth.user-info": f"{auth['username']}:{password}"}


def sink_table_ddl(plan):
    """`CREATE TEMPORARY TABLE __sink` for the plan's sink: registry-framed Avro values in the sink schema itself
    (not one derived from the columns), under the subject the launcher registered it in, so records carry the same
    schema id as the Spark job's. The Kafka key follows the output mode:
    * append (rows written once, final): the plain kafka connector, keyed by the yml's sink key as UTF-8 text, as
      the Spark runner keys them;
    * update/complete: upsert-kafka, whose key is its primary key, the row's identity (sink.upsert_key) as JSON."""
    sink, kafka = plan["sink"], plan["kafka"]
    sink_cols = ",\n  ".join(f"{q(n)} {t}{'' if nullable else ' NOT NULL'}"
                             for n, t, nullable in fields_of(sink["schema"]))
    value = {
        "value.format": "avro-confluent",
        "value.avro-confluent.url": plan["registryUrl"],
        "value.avro-confluent.schema": sink["schema"],
        "value.avro-confluent.subject": f"{sink['topic']}-value",
        **registry_auth_options(plan, "value.avro-confluent."),
    }
    common = {"topic": sink["topic"], "properties.bootstrap.servers": kafka["brokers"]}
    if sink["outputMode"] == "append":
        options = {"connector": "kafka", **common, "key.format": "raw", "key.fields": sink["key"],
                   # The key column stays in the value too: the value is the whole sink schema.
                   "value.fields-include": "ALL", **value,
                   # Every written row is acknowledged by the brokers before a checkpoint completes.
                   "sink.delivery-guarantee": "at-least-once"}
        keys = ""
    else:
        options = {"connector": "upsert-kafka", **common, "key.format": "json", **value}
        keys = f",\n  PRIMARY KEY ({', '.join(q(k) for k in sink['upsertKey'])}) NOT ENFORCED"
    options.update(kafka_security_properties(kafka))
    return (f"CREATE TEMPORARY TABLE `__sink` (\n  {sink_cols}{keys}\n) WITH (\n  " + with_clause(options)
            + "\n)")


def table_env(streaming, flink=None):
    from pyflink.table import EnvironmentSettings, TableEnvironment

    settings = EnvironmentSettings.in_streaming_mode() if streaming else EnvironmentSettings.in_batch_mode()
    t_env = TableEnvironment.create(settings)
    conf = t_env.get_config()
    conf.set("table.local-time-zone", "UTC")
    flink = flink or {}
    conf.set("parallelism.default", str(flink.get("parallelism", 1)))
    jars = [j for j in os.environ.get("EMOSTREAM_FLINK_JARS", "").split(",") if j]
    if jars:
        conf.set("pipeline.jars", ";".join("file://" + j for j in jars))
    rest = flink.get("restAddress")
    if rest:
        host, _, port = rest.rpartition(":")
        conf.set("execution.target", "remote")
        conf.set("rest.address", host)
        conf.set("rest.port", port)
    else:
        # The mini-cluster's REST endpoint, which the runner polls for progress; loopback, on the launcher's port
        # (Flink's default, 8081, is the registry's).
        conf.set("rest.bind-address", "127.0.0.1")
        conf.set("rest.address", "127.0.0.1")
        conf.set("rest.port", str(flink.get("restPort") or 0))
    return t_env


def source_columns(src):
    return [(n, t, nullable) for n, t, nullable in fields_of(src["schema"])]


def dedupe_view(t_env, src, table):
    """The source view the query reads: `table`, with a record repeated within its key dropped.

    A repeat is the same record, event time included (ingest stamps it once), so the event-time column joins the
    key. Keep-first on processing time keeps the stream append-only and the event-time attribute intact, which the
    window needs; the deduplication state is bounded by table.exec.state.ttl (set from the watermark)."""
    cols = ", ".join(q(n) for n, _, _ in source_columns(src))
    if not src["dedupe"]:
        t_env.execute_sql(f"CREATE TEMPORARY VIEW {q(src['view'])} AS SELECT {cols} FROM {q(table)}")
        return
    key = ", ".join(q(c) for c in [*src["dedupe"], src["eventTime"]])
    t_env.execute_sql(
        f"CREATE TEMPORARY VIEW {q(src['view'])} AS SELECT {cols} FROM ("
        f" SELECT *, ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY `__proc` ASC) AS `__rn` FROM {q(table)}"
        f") WHERE `__rn` = 1"
    )


# ---------------------------------------------------------------------------------------------------- batch


def iso_to_sql(value):
    """'2026-01-01T00:00:01.999Z' -> '2026-01-01 00:00:01.999' (the JSON format's SQL timestamp text, UTC)."""
    v = value.rstrip("Z").replace("T", " ")
    return v if "." in v else v + ".000"


def expand_fixtures(plan, out_file):
    """The plan's fixtures as JSON lines of the source schema's columns, `repeat: n` as n identical events.

    As in runner.py: a timestamp a fixture leaves out is its event time, a dedupe key column left out a fresh uuid
    per event (a fixture naming the key models a redelivery), any other column null."""
    src = plan["source"]
    fields = source_columns(src)
    n = 0
    with open(plan["tests"]["fixtures"], encoding="utf-8") as f, open(out_file, "w", encoding="utf-8") as out:
        for line in f:
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            fixture = json.loads(line)
            for _ in range(int(fixture.get("repeat") or 1)):
                row = {}
                for name, typ, _ in fields:
                    v = fixture.get(name)
                    if v is None and name in src["dedupe"]:
                        v = str(uuid.uuid4())
                    elif v is None and typ.startswith("TIMESTAMP"):
                        v = fixture.get(src["eventTime"])
                    if v is not None and typ.startswith("TIMESTAMP"):
                        v = iso_to_sql(v)
                    row[name] = v
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    return n


def json_value(v):
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    return v


def collect(table, limit=None):
    names = table.get_schema().get_field_names()
    rows = []
    with table.execute().collect() as results:
        for r in results:
            rows.append({n: json_value(v) for n, v in zip(names, r)})
            if limit and len(rows) >= limit:
                break
    return rows


def run_batch(args):
    t_env = table_env(streaming=False)
    os.makedirs(args.out, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="emostream-flink-fixtures-")
    for plan_file in args.plan:
        plan = json.load(open(plan_file, encoding="utf-8"))
        name, src = plan["name"], plan["source"]
        data = os.path.join(scratch, name, "fixtures.jsonl")
        os.makedirs(os.path.dirname(data), exist_ok=True)
        expand_fixtures(plan, data)
        table = f"__fixtures_{name.replace('-', '_')}"
        cols = ",\n  ".join(f"{q(n)} {t}" for n, t, _ in source_columns(src))
        t_env.execute_sql(
            f"CREATE TEMPORARY TABLE {q(table)} (\n  {cols},\n  `__proc` AS PROCTIME()\n) WITH (\n  "
            + with_clause({"connector": "filesystem", "path": os.path.dirname(data), "format": "json"})
            + "\n)"
        )
        dedupe_view(t_env, src, table)
        result = t_env.sql_query(plan["sql"])
        t_env.create_temporary_view("result", result)
        schema = result.get_schema()
        columns = [{"name": n, "type": spark_type_name(t)}
                   for n, t in zip(schema.get_field_names(), schema.get_field_data_types())]
        with open(os.path.join(args.out, name + ".columns.json"), "w", encoding="utf-8") as f:
            json.dump(columns, f)
        ignored = set(plan["tests"]["ignoreColumns"])
        kept = [c["name"] for c in columns if c["name"] not in ignored]
        rows = collect(t_env.sql_query("SELECT " + ", ".join(q(c) for c in kept) + " FROM `result`"))
        write_lines(os.path.join(args.out, name + ".jsonl"), rows)
        failures = [{"name": t["name"], "rows": collect(t_env.sql_query(t["sql"]), limit=20)}
                    for t in plan["tests"]["data"]]
        with open(os.path.join(args.out, name + ".tests.json"), "w", encoding="utf-8") as f:
            json.dump(failures, f, ensure_ascii=False)
        # The next plan defines its own (the same names, e.g. two jobs reading `reactions`).
        t_env.execute_sql("DROP TEMPORARY VIEW `result`")
        t_env.execute_sql(f"DROP TEMPORARY VIEW {q(src['view'])}")
        print(f"{name}: {len(rows)} rows", file=sys.stderr)


# --------------------------------------------------------------------------------------------------- stream


def say(message):
    """A line on the driver log, stamped with the wall time (UTC, ms) as Flink's own log lines are: the phases of a
    start (runner up, gateway JVM up, restore point, job submitted, running) can then be timed from the log."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
    try:
        print(f"{stamp} {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def latest_checkpoint(root):
    """The newest completed checkpoint under `root` (`<root>/<job id>/chk-<n>/_metadata`), through Flink's file
    systems (a local path or a URI a cluster reaches), or None. Every run is a new Flink job id, so the directories
    of earlier runs, superseded by the newest checkpoint (full checkpoints of the hashmap state backend, which share
    no files), are deleted: the root holds at most the restored run's and the new run's."""
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    base = jvm.org.apache.flink.core.fs.Path(root)
    fs = base.getFileSystem()
    if not fs.exists(base):
        return None
    best = None
    for job_dir in fs.listStatus(base) or []:
        if not job_dir.isDir():
            continue
        for chk in fs.listStatus(job_dir.getPath()) or []:
            m = re.match(r"^chk-(\d+)$", chk.getPath().getName())
            meta = jvm.org.apache.flink.core.fs.Path(chk.getPath(), "_metadata")
            if m and chk.isDir() and fs.exists(meta):
                n = int(m.group(1))
                if best is None or n > best[0]:
                    best = (n, chk.getPath().toString(), job_dir.getPath())
    if best is None:
        return None
    for job_dir in fs.listStatus(base) or []:
        if job_dir.isDir() and job_dir.getPath().toString() != best[2].toString():
            fs.delete(job_dir.getPath(), True)
    return best[1]


def rest_get(base, path):
    with urllib.request.urlopen(base + path, timeout=5) as r:
        return json.loads(r.read().decode("utf-8"))


def progress_entry(base, job_id, batch_id, previous, topic):
    """One progress line in the shape job:status reads (the fields of Spark's StreamingQueryProgress it uses),
    from the job's REST metrics: records out of the source since the last entry, and the Kafka source's pending
    records as offsets behind."""
    job = rest_get(base, f"/jobs/{job_id}")
    vertices = job.get("vertices", [])
    source = vertices[0] if vertices else {}
    sink = vertices[-1] if vertices else {}
    read = int(source.get("metrics", {}).get("write-records", 0))
    written = int(sink.get("metrics", {}).get("read-records", 0)) if len(vertices) > 1 else 0
    pending = None
    if source.get("id"):
        try:
            # Subtask metric ids carry the operator's name (`Source__reactions[1].pendingRecords`): look them up.
            at = f"/jobs/{job_id}/vertices/{source['id']}/subtasks/metrics"
            ids = [m["id"] for m in rest_get(base, at) if m.get("id", "").endswith("pendingRecords")]
            if ids:
                metrics = rest_get(base, f"{at}?get={','.join(ids)}&agg=sum")
                pending = int(sum(float(m.get("sum", 0)) for m in metrics))
        except Exception:  # noqa: BLE001 - a metric not reported yet
            pending = None
    now = time.time()
    elapsed = max(1e-3, now - previous["at"])
    rows = max(0, read - previous["read"])
    entry = {
        "batchId": batch_id,
        "timestamp": datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "numInputRows": rows,
        "inputRowsPerSecond": rows / elapsed,
        "processedRowsPerSecond": rows / elapsed,
        "batchDuration": int(elapsed * 1000),
        "engine": "flink",
        "sources": [{
            "description": f"KafkaSource[{topic}]",
            "numInputRows": rows,
            "metrics": {"recordsRead": str(read)},
            # Offsets as job:status sums them: consumed, and consumed + pending (the source's backlog).
            **({"endOffset": {topic: {"0": read}}, "latestOffset": {topic: {"0": read + pending}}}
               if pending is not None else {}),
        }],
        "sink": {"numOutputRows": written},
    }
    previous.update(at=now, read=read)
    return entry


# What Flink's Kafka source and avro-confluent format say about a record they cannot decode.
UNDECODABLE = re.compile(r"Failed to deserialize (Avro record|consumer record)|Unknown magic byte|"
                         r"Schema .* not found|Error retrieving Avro .*schema", re.I)


def explain_failure(error, topic):
    """The job's failure as the runner reports it: an undecodable source record gets what to do in front of Flink's
    cause. Flink's avro formats cannot skip a bad record (no `ignore-parse-errors`; FLINK-20091 was closed unmerged),
    so a restart fails again on the same offset, where Spark's runner drops the record."""
    if not UNDECODABLE.search(error):
        return error
    return (f"a record on {topic} is not registry-framed Avro of a registered schema, and Flink cannot skip it "
            "(its avro-confluent format has no ignore-parse-errors): every restart fails on the same offset. "
            f"Only ingest should write {topic}; find the foreign producer, then either run this job on Spark "
            "(which drops such records) until the record has aged out of the topic's retention, or start the job "
            "past it from a fresh checkpoint (job:stop, move its checkpoint directory away, "
            "SPARK_STARTING_OFFSETS=latest). Flink's cause: " + error)


def job_state(client):
    """The job's state name (RUNNING, FAILED …): PyFlink returns an enum whose str() is 'JobStatus.RUNNING'."""
    state = client.get_job_status().result()
    return getattr(state, "name", None) or str(state).rsplit(".", 1)[-1]


def run_stream(args):
    (plan_file,) = args.plan
    plan = json.load(open(plan_file, encoding="utf-8"))
    src, sink, kafka = plan["source"], plan["sink"], plan["kafka"]
    run_dir, checkpoint = plan["runDir"], plan["checkpoint"]
    os.makedirs(run_dir, exist_ok=True)
    lock_file = plan.get("driverLock")
    me = os.getpid()
    status_file = os.path.join(run_dir, "status.json")
    progress_file = os.path.join(run_dir, "progress.jsonl")
    tie = int(os.environ.get("EMOSTREAM_DRIVER_TIE_PID") or 0)
    tie_start = os.environ.get("EMOSTREAM_DRIVER_TIE_START") or None

    say(f"[flink-runner] {plan['name']}: runner up (pid {me})")
    flink = plan["flink"]
    t_env = table_env(streaming=True, flink=flink)
    say("[flink-runner] gateway JVM up")
    conf = t_env.get_config()
    if sink["outputMode"] != "append":
        # Update-style emission: a window's running total every trigger, not only once the watermark passes it
        # (the group-window syntax and these options; Flink's window TVFs emit at the watermark only, which is the
        # append mode's contract).
        conf.set("table.exec.emit.early-fire.enabled", "true")
        conf.set("table.exec.emit.early-fire.delay", duration(plan["trigger"]))
    # Deduplication state (and any other non-window state) lives about as long as the watermark's tolerance.
    wm_n, wm_unit = src["watermark"].split()
    conf.set("table.exec.state.ttl", f"{int(wm_n) * 3} {wm_unit.rstrip('s')}")
    conf.set("execution.checkpointing.interval", flink["checkpointInterval"])
    conf.set("execution.checkpointing.dir", checkpoint if re.match(r"^[a-z][a-z0-9+.-]*://", checkpoint)
             else "file://" + os.path.abspath(checkpoint))
    conf.set("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    conf.set("execution.checkpointing.num-retained", "2")
    conf.set("pipeline.name", f"emostream-{plan['name']}")
    # A job that keeps failing fails the runner (status failed, exit 1: the supervisor sees it) instead of
    # restarting inside the mini-cluster forever.
    conf.set("restart-strategy.type", "fixed-delay")
    conf.set("restart-strategy.fixed-delay.attempts", "3")
    conf.set("restart-strategy.fixed-delay.delay", "5 s")
    restored = latest_checkpoint(checkpoint)
    if restored:
        conf.set("execution.state-recovery.path", restored)
        say(f"[flink-runner] restoring from {restored}")

    cols = ",\n  ".join(f"{q(n)} {t}" for n, t, _ in source_columns(src))
    t_env.execute_sql(
        f"CREATE TEMPORARY TABLE `__source` (\n  {cols},\n  `__proc` AS PROCTIME(),\n"
        f"  WATERMARK FOR {q(src['eventTime'])} AS {q(src['eventTime'])} - {interval(src['watermark'])}\n"
        ") WITH (\n  "
        + with_clause({
            "connector": "kafka",
            "topic": src["topic"],
            "properties.bootstrap.servers": kafka["brokers"],
            "properties.group.id": f"emostream-flink-{plan['name']}",
            "scan.startup.mode": "earliest-offset" if kafka["startingOffsets"] == "earliest" else "latest-offset",
            # The registry-framed Avro of every producer: the writer schema by the frame's id, read as the columns.
            "format": "avro-confluent",
            "avro-confluent.url": plan["registryUrl"],
            **registry_auth_options(plan, "avro-confluent."),
            **kafka_security_properties(kafka),
        })
        + "\n)"
    )
    dedupe_view(t_env, src, "__source")

    t_env.execute_sql(sink_table_ddl(plan))
    fields = ", ".join(q(n) for n, _, _ in fields_of(sink["schema"]))
    result = t_env.execute_sql(f"INSERT INTO `__sink` SELECT {fields} FROM ({plan['sql']})")
    client = result.get_job_client()
    job_id = str(client.get_job_id())
    say(f"[flink-runner] job {job_id} submitted")
    base = f"http://{flink.get('restAddress') or '127.0.0.1:' + str(flink['restPort'])}"

    stop = {"requested": False}

    def on_signal(signum, _frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    # Running once the job's tasks are: the Kafka source then reads (a fresh job is CREATED, then RUNNING).
    deadline = time.time() + 120
    while time.time() < deadline and not stop["requested"]:
        state = job_state(client)
        if state == "RUNNING":
            break
        if state in ("FAILED", "CANCELED", "FINISHED"):
            break
        time.sleep(0.25)
    say(f"[flink-runner] job {job_state(client).lower()}")
    write_json(status_file, {"state": "running", "pid": me, "id": job_id, "since": time.time(),
                             "engine": "flink", **({"restoredFrom": restored} if restored else {})})

    def gone():
        if tie and not pid_alive(tie, tie_start):
            return f"its launcher (pid {tie}) is gone"
        return None

    previous = {"at": time.time(), "read": 0}
    batch_id = 0
    poll = max(1.0, float(plan["trigger"].split()[0]) if plan["trigger"].endswith(("second", "seconds")) else 2.0)
    next_progress = time.time() + poll
    try:
        while True:
            why = gone()
            if why or stop["requested"]:
                if why:
                    say(f"[flink-runner] {why}: cancelling the job and exiting")
                    release_lock(lock_file, me)
                    threading.Timer(15, lambda: os._exit(1)).start()
                # Cancel keeps the last completed checkpoint (RETAIN_ON_CANCELLATION); the next start restores it,
                # and the sink's rows since are re-emitted with the same totals (idempotent rows).
                try:
                    client.cancel().result()
                except Exception:  # noqa: BLE001 - already gone
                    pass
                if why:
                    os._exit(1)
                break
            state = job_state(client)
            if state in ("FAILED", "CANCELED", "FINISHED"):
                try:
                    client.get_job_execution_result().result()
                    error = f"job {state.lower()}"
                except Exception as err:  # noqa: BLE001 - the job's failure cause
                    error = str(err)
                raise RuntimeError(error)
            if time.time() >= next_progress:
                next_progress = time.time() + poll
                try:
                    entry = progress_entry(base, job_id, batch_id, previous, src["topic"])
                    batch_id += 1
                    with open(progress_file, "a", encoding="utf-8") as f:
                        f.write(json.dumps(entry) + "\n")
                except Exception as err:  # noqa: BLE001 - the REST endpoint may not answer yet
                    say(f"[flink-runner] no progress this time: {err}")
            time.sleep(0.5)
    except Exception as err:  # the job failed: say why, exit non-zero
        error = explain_failure(str(err), src["topic"])
        write_json(status_file, {"state": "failed", "pid": me, "error": error[:4000], "engine": "flink"})
        release_lock(lock_file, me)
        say(f"job {plan['name']} failed: {error}")
        sys.exit(1)
    write_json(status_file, {"state": "stopped", "pid": me, "since": time.time(), "engine": "flink"})
    release_lock(lock_file, me)


def run_warm():
    """The classes a stream start loads (gateway, planner, mini-cluster, window and dedupe operators, checkpoints),
    loaded once by a job shaped like the shipped ones, then a normal JVM exit: JVM_ARGS' -XX:ArchiveClassesAtExit
    writes them to the archive as the JVM exits, which this waits for."""
    from pyflink.java_gateway import get_gateway

    t_env = table_env(streaming=True, flink={"restPort": 0})
    conf = t_env.get_config()
    conf.set("table.exec.emit.early-fire.enabled", "true")
    conf.set("table.exec.emit.early-fire.delay", "1 s")
    conf.set("execution.checkpointing.interval", "1 s")
    conf.set("execution.checkpointing.dir", "file://" + tempfile.mkdtemp(prefix="emostream-flink-warm-"))
    t_env.execute_sql(
        "CREATE TEMPORARY TABLE `s` (`k` BIGINT, `e` STRING, `ts` TIMESTAMP(3), `__proc` AS PROCTIME(),"
        " WATERMARK FOR `ts` AS `ts` - INTERVAL '1' SECOND) WITH ('connector' = 'datagen', 'rows-per-second' = '200',"
        " 'fields.k.min' = '1', 'fields.k.max' = '50', 'fields.e.length' = '1')")
    t_env.execute_sql("CREATE TEMPORARY VIEW `v` AS SELECT `k`, `e`, `ts` FROM (SELECT *, ROW_NUMBER() OVER"
                      " (PARTITION BY `k`, `ts` ORDER BY `__proc` ASC) AS `__rn` FROM `s`) WHERE `__rn` = 1")
    t_env.execute_sql("CREATE TEMPORARY TABLE `o` (`e` STRING, `n` BIGINT) WITH ('connector' = 'blackhole')")
    job = t_env.execute_sql("INSERT INTO `o` SELECT `e`, COUNT(*) FROM `v` GROUP BY `e`, TUMBLE(`ts`, INTERVAL '1' SECOND)"
                            ).get_job_client()
    deadline = time.time() + 60
    while job_state(job) != "RUNNING" and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(4)  # a few windows, timers and checkpoints
    try:
        job.cancel().result()
    except Exception:  # noqa: BLE001 - already ended
        pass
    jvm = get_gateway().jvm
    pid = int(jvm.java.lang.ProcessHandle.current().pid())
    try:
        jvm.java.lang.System.exit(0)
    except Exception:  # noqa: BLE001 - the gateway goes away with the JVM
        pass
    # The JVM is this process's child: reap it (a zombie would still answer kill 0).
    for _ in range(1200):
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        except ChildProcessError:
            if not pid_alive(pid):
                break
        time.sleep(0.1)
    say(f"[flink-runner] warm start done (JVM {pid} exited)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["batch", "stream", "warm"])
    p.add_argument("--plan", action="append", help="a resolved job plan JSON (batch: repeatable)")
    p.add_argument("--out", help="batch: directory for the result files")
    args = p.parse_args()
    if args.mode == "warm":
        run_warm()
        sys.stdout.flush()
        os._exit(0)
    if not args.plan:
        p.error(f"{args.mode} needs --plan")
    if args.mode == "batch":
        if not args.out:
            p.error("batch needs --out")
        run_batch(args)
    else:
        if len(args.plan) != 1:
            p.error("stream runs exactly one plan")
        run_stream(args)
    # PyFlink's gateway JVM and its threads: exit now rather than wait for them.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
