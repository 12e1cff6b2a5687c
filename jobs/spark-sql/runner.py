"""Generic runner of EmoStream's Spark SQL jobs (the only Python in the project; keep it small).

It executes a resolved job plan (JSON written by jobs/spark-sql/control: SQL with parameters substituted, topics,
reader and writer schemas, key, trigger, watermark, dedupe, checkpoint) and nothing else:

  stream --plan f.json …          per plan, one streaming query: Kafka source view (registry-framed Avro decoded,
                                  watermark, dedupe) -> the SQL -> registry-framed Avro on the sink topic; several
                                  plans share one driver (one JVM and scheduler), each with its own checkpoint
  batch --plan f.json … --out d   each plan's SQL over its fixtures (columns from the plan's source schema); writes
                                  <d>/<job>.jsonl (rows), <job>.columns.json (result columns) and <job>.tests.json
                                  (failing rows of each data test)
"""

import argparse
import json
import os
import re
import signal
import sys
import threading
import time

from runner_support import kafka_security, pid_alive, release_lock, write_json, write_lines

LOCAL_CHECKPOINT_MANAGER = "org.apache.spark.sql.execution.streaming.FileSystemBasedCheckpointFileManager"


def session(app, ui_port, conf=None):
    from pyspark.sql import SparkSession

    b = (
        SparkSession.builder.appName(app)
        .config("spark.sql.shuffle.partitions", os.environ.get("EMOSTREAM_SPARK_SHUFFLE_PARTITIONS", "2"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # A checkpoint keeps this many batches of offsets, commits and state deltas (Spark's default is 100); a
        # restart needs only the last, so a smaller number bounds the data dir. EMOSTREAM_SPARK_MIN_BATCHES_TO_RETAIN.
        .config(
            "spark.sql.streaming.minBatchesToRetain",
            os.environ.get("EMOSTREAM_SPARK_MIN_BATCHES_TO_RETAIN", "20"),
        )
    )
    b = b.config("spark.ui.enabled", "false") if ui_port == "off" else b.config("spark.ui.port", ui_port)
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("EMOSTREAM_SPARK_LOG_LEVEL", "WARN"))
    return spark


# Spark type of an Avro field type, for reading fixtures as the source schema's columns (primitives, logical
# timestamps, nullable unions): the shapes the project's schemas use.
AVRO_TO_SPARK = {"string": "STRING", "int": "INT", "long": "BIGINT", "float": "FLOAT", "double": "DOUBLE",
                 "boolean": "BOOLEAN"}


def spark_type(avro_type):
    if isinstance(avro_type, list):
        (t,) = [t for t in avro_type if t != "null"]
        return spark_type(t)
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") in ("timestamp-millis", "timestamp-micros"):
            return "TIMESTAMP"
        return spark_type(avro_type["type"])
    if avro_type not in AVRO_TO_SPARK:
        raise SystemExit(f"fixtures: Avro type {avro_type!r} is not supported")
    return AVRO_TO_SPARK[avro_type]


def fixture_view(spark, plan):
    """The plan's fixtures as its source view: the source schema's columns, `repeat: n` for n identical events.

    A field a fixture leaves out is filled in: a timestamp with the event time, a dedupe key column with a fresh uuid
    per event (so repeated taps are distinct events; a fixture that names the key models a redelivery), any other
    column with null.
    """
    from pyspark.sql import functions as F

    src = plan["source"]
    fields = [(f["name"], spark_type(f["type"])) for f in json.loads(src["schema"])["fields"]]
    # Timestamps are read as text and cast: JSON fixtures carry ISO-8601 strings.
    ddl = ", ".join(f"`{n}` {'STRING' if t == 'TIMESTAMP' else t}" for n, t in fields) + ", `repeat` INT"
    raw = spark.read.schema(ddl).json(plan["tests"]["fixtures"])
    event_time = F.col(src["eventTime"]).cast("timestamp")
    cols = []
    for name, typ in fields:
        c = F.col(name).cast("timestamp") if typ == "TIMESTAMP" else F.col(name)
        if name in src["dedupe"]:
            c = F.coalesce(c, F.expr("uuid()"))
        elif typ == "TIMESTAMP":
            c = F.coalesce(c, event_time)
        cols.append(c.alias(name))
    exploded = raw.select(F.explode(F.sequence(F.lit(1), F.coalesce("repeat", F.lit(1)))).alias("_n"), "*")
    view = exploded.select(*cols)
    return view.dropDuplicates(src["dedupe"]) if src["dedupe"] else view


def json_rows(df):
    """Rows as JSON-ready dicts, timestamps rendered by SQL in the session time zone (UTC), not by Python."""
    from pyspark.sql import functions as F

    iso = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
    return [r.asDict(recursive=True) for r in df.select(
        *[F.date_format(f.name, iso).alias(f.name) if f.dataType.typeName() == "timestamp" else F.col(f.name)
          for f in df.schema.fields]
    ).collect()]


def run_batch(args):
    spark = session("emostream-job-test", args.ui_port)
    os.makedirs(args.out, exist_ok=True)
    for plan_file in args.plan:
        plan = json.load(open(plan_file, encoding="utf-8"))
        name = plan["name"]
        fixture_view(spark, plan).createOrReplaceTempView(plan["source"]["view"])
        result = spark.sql(plan["sql"])
        result.createOrReplaceTempView("result")
        with open(os.path.join(args.out, name + ".columns.json"), "w", encoding="utf-8") as f:
            json.dump([{"name": c.name, "type": c.dataType.simpleString()} for c in result.schema.fields], f)
        compared = result.drop(*plan["tests"]["ignoreColumns"])
        write_lines(os.path.join(args.out, name + ".jsonl"), json_rows(compared))
        failures = [{"name": t["name"], "rows": json_rows(spark.sql(t["sql"]).limit(20))}
                    for t in plan["tests"]["data"]]
        with open(os.path.join(args.out, name + ".tests.json"), "w", encoding="utf-8") as f:
            json.dump(failures, f, ensure_ascii=False)
        print(f"{name}: {compared.count()} rows", file=sys.stderr)
    spark.stop()


def new_progress(query, last_seen):
    """JSON of the progress entries newer than `last_seen` (an entry's `timestamp`, its trigger's start, ISO-8601
    UTC: later triggers sort later), read from the JVM's progress objects as they are.

    Not the batch id: an idle trigger (no new data for spark.sql.streaming.noDataProgressEventInterval) reports an
    entry carrying the id of the batch that has not run yet, and that batch's own entry then came with an id already
    seen and was dropped (a job idle for 10 s lost the progress of its next batch).

    Not query.recentProgress nor a Python StreamingQueryListener: both convert every progress object field by field
    through py4j, and the reflection lookups behind that (each a class-path scan) took a third of the driver's CPU
    on two cores (JFR), slowing every batch. Here: a few plain calls per poll, newest first, stopping at the known.
    """
    recent = query._jsq.recentProgress()
    fresh = []
    for i in range(len(recent) - 1, -1, -1):
        p = recent[i]
        if last_seen is not None and p.timestamp() <= last_seen:
            break
        fresh.append(p.json())
    return fresh[::-1]


def say(message):
    """A line on stderr, which is a pipe to the JVM: once the JVM is gone, writing raises, and must not stop us."""
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def watch_owners(state, lock_files):
    """A daemon thread that ends the driver once what it belongs to is gone: its JVM (our parent; the JVM of a
    killed spark-submit leaves this process behind otherwise) or the launcher it is tied to
    (EMOSTREAM_DRIVER_TIE_PID, main.ts under npm start, which may be SIGKILLed). It stops the queries (bounded) and
    exits hard with 1; PythonRunner then fails and SparkSubmit's JVM exits with it."""
    jvm = os.getppid()
    tie = int(os.environ.get("EMOSTREAM_DRIVER_TIE_PID") or 0)
    tie_start = os.environ.get("EMOSTREAM_DRIVER_TIE_START") or None

    def gone():
        if os.getppid() != jvm:
            return f"its JVM (pid {jvm}) exited"
        if tie and not pid_alive(tie, tie_start):
            return f"its launcher (pid {tie}) is gone"
        return None

    def loop():
        while True:
            time.sleep(1)
            why = gone()
            if why:
                break
        # First the locks (a JVM kill leaves no one else to release them), then the words (stderr may be a broken
        # pipe).
        for lock_file in lock_files:
            release_lock(lock_file, jvm)
        say(f"[runner] {why}: stopping the queries and exiting")
        # Hard deadline: a query.stop() through a dying JVM may never return.
        threading.Timer(15, lambda: os._exit(1)).start()
        for query in state.get("queries", []):
            if os.getppid() != jvm:
                break
            try:
                query.stop()
            except Exception:  # noqa: BLE001 - the JVM may be half gone; exiting is all that is left
                pass
        os._exit(1)

    threading.Thread(target=loop, name="owner-watch", daemon=True).start()


def kafka_security_options(kafka):
    """kafka.* options of the plan's security (runner_support.kafka_security): the password is read here from the file
    the plan names (or KAFKA_SASL_PASSWORD) and is in no file the launcher writes. Spark redacts option values matching
    spark.redaction.regex (…password…) in its logs and UI, and the Kafka client logs sasl.jaas.config as [hidden]."""
    return kafka_security(kafka, "kafka.", "runner")


def is_local(checkpoint):
    return re.match(r"^(file:|[^:]*$)", checkpoint) is not None


def start_query(spark, plan):
    """The plan's streaming query, started in a scheduler pool of its own (named after the job): Kafka source view
    (registry-framed Avro decoded, watermark, dedupe) -> the plan's SQL -> registry-framed Avro on the sink topic."""
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro, to_avro

    src, sink, kafka = plan["source"], plan["sink"], plan["kafka"]
    # Registry framing of every sink record: magic byte 0 + the 4-byte id the launcher registered the schema under.
    frame = bytearray(b"\x00" + int(sink["schemaId"]).to_bytes(4, "big"))
    security = kafka_security_options(kafka)
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", kafka["brokers"])
        .option("subscribe", src["topic"])
        .option("startingOffsets", kafka["startingOffsets"])
        # One poll per few thousand records, not per 500 (the Kafka client's default): a 2 s batch at tens of
        # thousands of reactions a second otherwise spends its source tasks in poll/position round trips.
        .option("kafka.max.poll.records", "10000")
        # A micro-batch reads up to the end of the log, where the broker parks a fetch for fetch.max.wait.ms (500 ms
        # by default) waiting for data that is not part of the batch; that wait showed as up to a second of a batch
        # reading to the end (bench:spark), which in a live stream is every batch. 20 ms: a 150-230 ms shorter batch.
        .option("kafka.fetch.max.wait.ms", "20")
        .options(**security)
    )
    if kafka.get("maxOffsetsPerTrigger"):
        reader = reader.option("maxOffsetsPerTrigger", kafka["maxOffsetsPerTrigger"])
    # Registry framing: magic byte 0 + 4-byte schema id, then the Avro body that from_avro reads. Records that are not
    # framed or do not decode are dropped (PERMISSIVE gives null) rather than stopping the job.
    decoded = (
        reader.load()
        .where(F.expr("substring(value, 1, 1) = X'00'"))
        .select(from_avro(F.expr("substring(value, 6)"), src["schema"], {"mode": "PERMISSIVE"}).alias("r"))
        .where("r IS NOT NULL")
        .select("r.*")
        .withWatermark(src["eventTime"], src["watermark"])
    )
    # A record written twice (a producer retry whose first attempt landed) counts once. A repeat is the same record,
    # event time included (a chunk keeps its exact bytes across retries), so the event-time column joins the key:
    # Spark then drops a key's state as soon as the watermark passes its event time — rate × watermark keys.
    # dropDuplicatesWithinWatermark keeps each key for watermark past its *first arrival's* watermark, twice as long,
    # and at 50,000 reactions/s that doubled state (1.1M rows) cost seconds per batch to add and expire.
    if src["dedupe"]:
        decoded = decoded.dropDuplicates([*src["dedupe"], src["eventTime"]])
    # Temp views are per session: each query resolves its SQL against its own source view, even when two jobs name
    # the same one (both read `reactions`), in a session of its own that shares the driver's SparkContext.
    decoded.createOrReplaceTempView(src["view"])
    result = spark.sql(plan["sql"])
    fields = [f["name"] for f in json.loads(sink["schema"])["fields"]]
    out = result.select(
        F.col(sink["key"]).cast("string").alias("key"),
        F.concat(F.lit(frame), to_avro(F.struct(*fields), sink["schema"])).alias("value"),
    )
    # FAIR scheduling between the driver's queries: a long batch of one job does not queue the other's tasks
    # behind it. The pool is a local property of the thread that starts the query, which its batches inherit.
    spark.sparkContext.setLocalProperty("spark.scheduler.pool", plan["name"])
    return (
        out.writeStream.format("kafka")
        .option("kafka.bootstrap.servers", kafka["brokers"])
        .option("topic", sink["topic"])
        .options(**security)
        .option("checkpointLocation", plan["checkpoint"])
        .outputMode(sink["outputMode"])
        .trigger(processingTime=plan["trigger"])
        .queryName(plan["name"])
        .start()
    )


def run_stream(args):
    """One driver for every plan given: one JVM, one SparkContext and scheduler, each job its own query (own session,
    checkpoint, run dir, status, progress and lock). Any query failing ends the driver (the others stop gracefully
    first), so its supervisor restarts them together, each resuming its checkpoint."""
    plans = [json.load(open(f, encoding="utf-8")) for f in args.plan]
    names = [p["name"] for p in plans]
    if len(set(names)) != len(names):
        raise SystemExit(f"runner: a job is given twice: {names}")
    for plan in plans:
        os.makedirs(plan["runDir"], exist_ok=True)
    lock_files = [p.get("driverLock") for p in plans]
    jvm = os.getppid()
    watched = {"queries": []}
    watch_owners(watched, lock_files)

    def release_all():
        for lock_file in lock_files:
            release_lock(lock_file, jvm)

    # A local checkpoint goes through Hadoop's FileSystem API rather than the default FileContext one: without the
    # native Hadoop library (pip pyspark has none) FileContext resolves symlinks by forking `readlink`, ~20 forks of
    # a 1 GB JVM per micro-batch (offset log, commit log, a delta file per state partition): 60-150 ms per file
    # written. A local rename is atomic either way. Checkpoints on HDFS or object stores keep Spark's default.
    conf = {"spark.scheduler.mode": "FAIR"}
    if all(is_local(p["checkpoint"]) for p in plans):
        conf["spark.sql.streaming.checkpointFileManagerClass"] = LOCAL_CHECKPOINT_MANAGER
    root = session("emostream-" + "+".join(names), plans[0]["uiPort"], conf)

    jobs = []
    status = {}
    try:
        for plan in plans:
            spark = root if not jobs else root.newSession()
            query = start_query(spark, plan)
            watched["queries"].append(query)
            jobs.append({
                "plan": plan,
                "query": query,
                "status": os.path.join(plan["runDir"], "status.json"),
                "progress": os.path.join(plan["runDir"], "progress.jsonl"),
                "last": None,
            })
    except Exception as err:  # a query that cannot start: say which, stop the started ones
        failed = plans[len(jobs)]
        write_json(os.path.join(failed["runDir"], "status.json"),
                   {"state": "failed", "pid": os.getpid(), "error": str(err)[:4000]})
        for job in jobs:
            job["query"].stop()
        release_all()
        say(f"job {failed['name']} failed to start: {err}")
        root.stop()
        sys.exit(1)

    stop = {"requested": False}

    def on_signal(signum, _frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for job in jobs:
        write_json(job["status"], {"state": "running", "pid": os.getpid(), "id": str(job["query"].id),
                                   "since": time.time()})

    def stop_gracefully(remaining):
        # Let the micro-batches in flight commit (bounded wait), then stop between batches.
        deadline = time.time() + 60
        for job in remaining:
            while job["query"].isActive and job["query"].status["isTriggerActive"] and time.time() < deadline:
                time.sleep(0.1)
            job["query"].stop()
            write_json(job["status"], {"state": "stopped", "pid": os.getpid(), "since": time.time()})

    failure = None
    while failure is None and not stop["requested"]:
        for job in jobs:
            query = job["query"]
            try:
                if not query.isActive:
                    # A query that ended without being asked: awaitTermination raises its exception, if any.
                    query.awaitTermination()
                    raise RuntimeError("the query stopped on its own")
                fresh = new_progress(query, job["last"])
            except Exception as err:  # noqa: BLE001 - the query failed: say why below
                failure = (job, err)
                break
            if fresh:
                with open(job["progress"], "a", encoding="utf-8") as f:
                    f.writelines(p + "\n" for p in fresh)
                job["last"] = json.loads(fresh[-1])["timestamp"]
        if failure is None:
            time.sleep(1)

    if failure is not None:  # say why, stop the others gracefully, exit non-zero
        job, err = failure
        write_json(job["status"], {"state": "failed", "pid": os.getpid(), "error": str(err)[:4000]})
        say(f"job {job['plan']['name']} failed: {err}")
        stop_gracefully([j for j in jobs if j is not job])
        release_all()
        root.stop()
        sys.exit(1)
    stop_gracefully(jobs)
    release_all()
    root.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["batch", "stream"])
    p.add_argument("--plan", action="append", required=True, help="a resolved job plan JSON (repeatable)")
    p.add_argument("--out", help="batch: directory for the result files")
    p.add_argument("--ui-port", default="off", help="batch: Spark UI port, or off (stream: the plan's)")
    args = p.parse_args()
    if args.mode == "batch":
        if not args.out:
            p.error("batch needs --out")
        run_batch(args)
    else:
        run_stream(args)


if __name__ == "__main__":
    main()
