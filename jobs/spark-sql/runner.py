"""Generic runner of EmoStream's Spark SQL jobs (the only Python in the project; keep it small).

Modes:
  header  print the parsed job header as JSON (no Spark; lets the TypeScript scripts check they agree)
  batch   run each job's SQL over its fixtures (<job>.fixtures.jsonl) and write the rows to <out>/<job>.jsonl
  stream  Kafka source view (registry-framed Avro decoded) -> job SQL -> registry-framed Avro on the sink topic

Topic names, brokers, registry URL, checkpoint and run directory come from the command line (the zx scripts pass
them); the SQL names only logical sources and sinks.
"""

import argparse
import json
import os
import re
import signal
import sys
import time
import urllib.request

PARAM_RE = re.compile(r"^--\s*@param\s+(\w+)\s+(\w+)\s*=\s*(.*?)\s*(\[stateless\])?\s*$")
CHECKS = {
    "interval": re.compile(r"^\d+ (millisecond|second|minute|hour|day)s?$"),
    "int": re.compile(r"^[1-9]\d*$"),
    "topic": re.compile(r"^[a-z][a-z0-9_]*$"),
    "column": re.compile(r"^[a-z_][a-z0-9_]*$"),
    "mode": re.compile(r"^(append|update|complete)$"),
}
REQUIRED = ["window", "watermark", "trigger", "source", "sink", "event_time", "sink_key", "output_mode"]


def parse_job(path):
    """Header params and SQL (params substituted). Mirrors jobs/spark-sql/control/job-header.ts."""
    text = open(path, encoding="utf-8").read()
    params = {}
    for line in text.splitlines():
        m = PARAM_RE.match(line.strip())
        if not m:
            continue
        name, typ, value, stateless = m.groups()
        if typ not in CHECKS or not CHECKS[typ].match(value):
            raise SystemExit(f"{path}: @param {name}: {value!r} is not a valid {typ}")
        params[name] = {"type": typ, "value": value, "stateful": stateless is None}
    missing = [n for n in REQUIRED if n not in params]
    if missing:
        raise SystemExit(f"{path}: header lacks @param {', '.join(missing)}")

    def subst(m):
        if m.group(1) not in params:
            raise SystemExit(f"{path}: ${{{m.group(1)}}} is not a declared @param")
        return params[m.group(1)]["value"]

    # Comment lines keep their ${...} text: only the query is substituted.
    sql = "\n".join(
        line if line.lstrip().startswith("--") else re.sub(r"\$\{(\w+)\}", subst, line) for line in text.splitlines()
    )
    name = os.path.basename(path)[: -len(".sql")]
    return {"name": name, "params": params, "sql": sql}


def value_of(job, name):
    return job["params"][name]["value"]


LOCAL_CHECKPOINT_MANAGER = "org.apache.spark.sql.execution.streaming.FileSystemBasedCheckpointFileManager"


def session(app, ui_port, conf=None):
    from pyspark.sql import SparkSession

    b = (
        SparkSession.builder.appName(app)
        .config("spark.sql.shuffle.partitions", os.environ.get("EMOSTREAM_SPARK_SHUFFLE_PARTITIONS", "2"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    b = b.config("spark.ui.enabled", "false") if ui_port == "off" else b.config("spark.ui.port", ui_port)
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("EMOSTREAM_SPARK_LOG_LEVEL", "WARN"))
    return spark


def run_batch(args):
    from pyspark.sql import functions as F

    spark = session("emostream-job-test", args.ui_port)
    os.makedirs(args.out, exist_ok=True)
    for path in args.job:
        job = parse_job(path)
        fixtures = path[: -len(".sql")] + ".fixtures.jsonl"
        raw = spark.read.schema(
            "event_id STRING, match_id STRING, user_id STRING, emoji STRING, client_ts STRING, "
            "ingest_ts STRING, repeat INT"
        ).json(fixtures)
        ts = F.col("ingest_ts").cast("timestamp")
        view = raw.select(
            F.explode(F.sequence(F.lit(1), F.coalesce("repeat", F.lit(1)))).alias("_n"),
            F.coalesce("event_id", F.expr("uuid()")).alias("event_id"),
            "match_id",
            F.coalesce("user_id", F.lit("fixture")).alias("user_id"),
            "emoji",
            F.coalesce(F.col("client_ts").cast("timestamp"), ts).alias("client_ts"),
            ts.alias("ingest_ts"),
        ).drop("_n")
        view.createOrReplaceTempView(value_of(job, "source"))
        result = spark.sql(job["sql"]).drop("emitted_at")
        # Timestamps rendered in SQL (session time zone UTC), not by Python's local-time conversion.
        iso = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
        rows = result.select(
            *[F.date_format(f.name, iso).alias(f.name) if f.dataType.typeName() == "timestamp" else f.name
              for f in result.schema.fields]
        ).collect()
        with open(os.path.join(args.out, job["name"] + ".jsonl"), "w", encoding="utf-8") as out:
            for r in rows:
                out.write(json.dumps(r.asDict(), ensure_ascii=False) + "\n")
        print(f"{job['name']}: {len(rows)} rows", file=sys.stderr)
    spark.stop()


def registry(url, path, body=None):
    req = urllib.request.Request(
        url.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f)
    os.replace(tmp, path)


def new_progress(query, last_batch):
    """JSON of the micro-batches after `last_batch`, read from the JVM's progress objects as they are.

    Not query.recentProgress nor a Python StreamingQueryListener: both convert every progress object field by field
    through py4j, and the reflection lookups behind that (each a class-path scan) took a third of the driver's CPU
    on two cores (JFR), slowing every batch. Here: a few plain calls per poll, newest first, stopping at the known.
    """
    recent = query._jsq.recentProgress()
    fresh = []
    for i in range(len(recent) - 1, -1, -1):
        p = recent[i]
        if p.batchId() <= last_batch:
            break
        fresh.append(p.json())
    return fresh[::-1]


def run_stream(args):
    from pyspark.sql import functions as F
    from pyspark.sql.avro.functions import from_avro, to_avro

    (path,) = args.job
    job = parse_job(path)
    topics = dict(kv.split("=", 1) for kv in args.topic)
    src, sink = topics[value_of(job, "source")], topics[value_of(job, "sink")]
    os.makedirs(args.run_dir, exist_ok=True)

    # Reader schema: the latest version of the source subject. Writer schema: aggregate.avsc, registered (idempotent)
    # so that its id goes into every record's frame.
    reaction = registry(args.registry, f"/subjects/{src}-value/versions/latest")["schema"]
    sink_schema = open(args.sink_schema, encoding="utf-8").read()
    sink_id = registry(args.registry, f"/subjects/{sink}-value/versions", {"schema": sink_schema})["id"]
    frame = bytearray(b"\x00" + int(sink_id).to_bytes(4, "big"))

    # A local checkpoint goes through Hadoop's FileSystem API rather than the default FileContext one: without the
    # native Hadoop library (pip pyspark has none) FileContext resolves symlinks by forking `readlink`, ~20 forks of
    # a 1 GB JVM per micro-batch (offset log, commit log, a delta file per state partition): 60-150 ms per file
    # written. A local rename is atomic either way. Checkpoints on HDFS or object stores keep Spark's default.
    local = re.match(r"^(file:|[^:]*$)", args.checkpoint) is not None
    conf = {"spark.sql.streaming.checkpointFileManagerClass": LOCAL_CHECKPOINT_MANAGER} if local else {}
    spark = session(f"emostream-{job['name']}", args.ui_port, conf)
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.brokers)
        .option("subscribe", src)
        .option("startingOffsets", args.starting_offsets)
        # One poll per few thousand records, not per 500 (the Kafka client's default): a 2 s batch at tens of
        # thousands of reactions a second otherwise spends its source tasks in poll/position round trips.
        .option("kafka.max.poll.records", "10000")
        # A micro-batch reads up to the end of the log, where the broker parks a fetch for fetch.max.wait.ms (500 ms
        # by default) waiting for data that is not part of the batch; that wait showed as up to a second of a batch
        # reading to the end (bench:spark), which in a live stream is every batch. 20 ms: a 150-230 ms shorter batch.
        .option("kafka.fetch.max.wait.ms", "20")
    )
    if args.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", args.max_offsets_per_trigger)
    # Registry framing: magic byte 0 + 4-byte schema id, then the Avro body that from_avro reads. Records that are not
    # framed or do not decode are dropped (PERMISSIVE gives null) rather than stopping the job.
    decoded = (
        reader.load()
        .where(F.expr("substring(value, 1, 1) = X'00'"))
        .select(from_avro(F.expr("substring(value, 6)"), reaction, {"mode": "PERMISSIVE"}).alias("r"))
        .where("r IS NOT NULL")
        .select("r.*")
        .withWatermark(value_of(job, "event_time"), value_of(job, "watermark"))
    )
    decoded.createOrReplaceTempView(value_of(job, "source"))
    result = spark.sql(job["sql"])
    fields = [f["name"] for f in json.loads(sink_schema)["fields"]]
    out = result.select(
        F.col(value_of(job, "sink_key")).cast("string").alias("key"),
        F.concat(F.lit(frame), to_avro(F.struct(*fields), sink_schema)).alias("value"),
    )
    query = (
        out.writeStream.format("kafka")
        .option("kafka.bootstrap.servers", args.brokers)
        .option("topic", sink)
        .option("checkpointLocation", args.checkpoint)
        .outputMode(value_of(job, "output_mode"))
        .trigger(processingTime=value_of(job, "trigger"))
        .queryName(job["name"])
        .start()
    )

    stop = {"requested": False}

    def on_signal(signum, _frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    status_file = os.path.join(args.run_dir, "status.json")
    progress_file = os.path.join(args.run_dir, "progress.jsonl")
    write_json(status_file, {"state": "running", "pid": os.getpid(), "id": str(query.id), "since": time.time()})
    last_batch = -1
    try:
        while query.isActive:
            if stop["requested"]:
                # Graceful: let the micro-batch in flight commit (bounded wait), then stop between batches.
                deadline = time.time() + 60
                while query.status["isTriggerActive"] and time.time() < deadline:
                    time.sleep(0.1)
                query.stop()
                break
            query.awaitTermination(1)
            fresh = new_progress(query, last_batch)
            if fresh:
                with open(progress_file, "a", encoding="utf-8") as f:
                    f.writelines(p + "\n" for p in fresh)
                last_batch = json.loads(fresh[-1])["batchId"]
    except Exception as err:  # the query failed: say why, exit non-zero
        write_json(status_file, {"state": "failed", "pid": os.getpid(), "error": str(err)[:4000]})
        print(f"job {job['name']} failed: {err}", file=sys.stderr)
        spark.stop()
        sys.exit(1)
    write_json(status_file, {"state": "stopped", "pid": os.getpid(), "since": time.time()})
    spark.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["header", "batch", "stream"])
    p.add_argument("--job", action="append", required=True, help="path of a jobs/spark-sql/<job>.sql (repeatable)")
    p.add_argument("--out", help="batch: directory for <job>.jsonl result rows")
    p.add_argument("--brokers")
    p.add_argument("--registry", help="Confluent-compatible schema registry base URL")
    p.add_argument("--topic", action="append", default=[], help="logical=topic, e.g. reactions=emoji.reactions.v1")
    p.add_argument("--sink-schema", help="Avro schema file of the sink records")
    p.add_argument("--checkpoint")
    p.add_argument("--run-dir", help="where status.json and progress.jsonl are written")
    p.add_argument("--starting-offsets", default="earliest")
    p.add_argument("--max-offsets-per-trigger", type=int)
    p.add_argument("--ui-port", default="off", help="Spark UI port, or off")
    args = p.parse_args()
    if args.mode == "header":
        for path in args.job:
            job = parse_job(path)
            print(json.dumps({"name": job["name"], "params": job["params"]}))
    elif args.mode == "batch":
        run_batch(args)
    else:
        run_stream(args)


if __name__ == "__main__":
    main()
