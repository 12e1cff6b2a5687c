/**
 * The secured local stack (`npm start -- --secure`, `EMOSTREAM_SECURE=1`): what it generates and how the broker and
 * the registry are configured with it. Kept apart from kafka-broker.ts, which only takes extra properties and
 * format arguments from here, so the broker's own code stays the same for one node or several.
 *
 * Generated once into a security directory (`<data>/security` with a data dir, else `<run>/security`) and reused on
 * every later start, so a persistent broker keeps trusting the same certificate and credentials:
 *
 * - `ca.p12` (the CA's key, PKCS12) and `ca.pem` (its certificate: every client's trust anchor, KAFKA_SSL_CA_FILE);
 * - `broker.p12`: the broker's key and a certificate the CA signed for the loopback address (SAN ip and localhost),
 *   with `keystore.password`;
 * - `kafka-users/<user>`: one SCRAM-SHA-512 password per principal (`emostream-admin` for the runtime's admin calls
 *   and the broker itself, `emostream-ingest`, `emostream-spark`, `emostream-fanout`), created in the KRaft
 *   metadata when the storage is formatted (`kafka-storage format --add-scram`);
 * - `registry-users/<user>` and `registry/config/application.properties`: the registry's basic-auth user.
 *
 * Listeners: clients (and the broker to itself) on SASL_SSL; the KRaft controller listener stays PLAINTEXT on
 * loopback (it accepts no client traffic from the services, but anyone on this machine who can reach it could alter
 * metadata: local use only). No authorizer: every authenticated principal may do anything (see README for the ACLs
 * production needs).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ClientSecurity, KafkaSecurity } from '../../common/client-security.ts';
import { ServiceError } from './errors.ts';

const exec = promisify(execFile);

/** Who connects to the local broker, each with a SCRAM user of its own. */
export const PRINCIPALS = ['admin', 'ingest', 'spark', 'fanout'] as const;
export type Principal = (typeof PRINCIPALS)[number];

/** SCRAM user name of a principal. */
export const kafkaUser = (p: Principal) => `emostream-${p}`;
/** The registry's one basic-auth user (Apicurio's role-based authorization stays off: any user may write). */
export const REGISTRY_USER = 'emostream';
/** The one SASL mechanism of the secured broker. */
export const SCRAM_MECHANISM = 'SCRAM-SHA-512';

/** The generated material of a secured stack. */
export interface LocalSecurity {
  dir: string;
  /** PEM certificate of the local CA. */
  caFile: string;
  /** PKCS12 keystore with the broker's key and certificate chain. */
  keystoreFile: string;
  keystorePassword: string;
  users: Record<Principal, { username: string; password: string; passwordFile: string }>;
  registry: { username: string; password: string; passwordFile: string };
}

const SECRET_BYTES = 24;
const secret = () => randomBytes(SECRET_BYTES).toString('base64url');

function paths(dir: string) {
  return {
    caKeystore: path.join(dir, 'ca.p12'),
    caFile: path.join(dir, 'ca.pem'),
    keystoreFile: path.join(dir, 'broker.p12'),
    keystorePasswordFile: path.join(dir, 'keystore.password'),
    kafkaUser: (p: Principal) => path.join(dir, 'kafka-users', kafkaUser(p)),
    registryUser: path.join(dir, 'registry-users', REGISTRY_USER),
    registryConfigDir: path.join(dir, 'registry'),
    scramCluster: path.join(dir, 'scram-cluster-id'),
    complete: path.join(dir, '.complete'),
  };
}

const readSecret = (file: string) => readFileSync(file, 'utf8').trim();

function load(dir: string): LocalSecurity {
  const p = paths(dir);
  return {
    dir,
    caFile: p.caFile,
    keystoreFile: p.keystoreFile,
    keystorePassword: readSecret(p.keystorePasswordFile),
    users: Object.fromEntries(
      PRINCIPALS.map((principal) => [
        principal,
        {
          username: kafkaUser(principal),
          password: readSecret(p.kafkaUser(principal)),
          passwordFile: p.kafkaUser(principal),
        },
      ]),
    ) as LocalSecurity['users'],
    registry: { username: REGISTRY_USER, password: readSecret(p.registryUser), passwordFile: p.registryUser },
  };
}

/** The certificate's subject alternative names: the listener host, loopback and localhost. */
function sanOf(host: string): string {
  const names = new Set(['ip:127.0.0.1', 'dns:localhost', isIP(host) ? `ip:${host}` : `dns:${host}`]);
  return `SAN=${[...names].join(',')}`;
}

/**
 * The security directory `dir` with its CA, broker keystore and passwords, generated with the JDK's keytool when it
 * does not exist yet (into a temp dir first, so an interrupted run leaves nothing half-made), else read as it is.
 */
export async function ensureLocalSecurity(
  javaBin: string,
  dir: string,
  host: string,
): Promise<LocalSecurity> {
  if (existsSync(paths(dir).complete)) return load(dir);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const p = paths(tmp);
  mkdirSync(path.join(tmp, 'kafka-users'), { recursive: true, mode: 0o700 });
  mkdirSync(path.join(tmp, 'registry-users'), { recursive: true, mode: 0o700 });
  const storePassword = secret();
  const writeSecret = (file: string, value: string) => writeFileSync(file, `${value}\n`, { mode: 0o600 });
  writeSecret(p.keystorePasswordFile, storePassword);
  for (const principal of PRINCIPALS) writeSecret(p.kafkaUser(principal), secret());
  writeSecret(p.registryUser, secret());

  const keytool = path.join(path.dirname(javaBin), 'keytool');
  // The password reaches keytool through its environment, not its command line.
  const env = { ...process.env, EMOSTREAM_STOREPASS: storePassword };
  const pass = ['-storepass:env', 'EMOSTREAM_STOREPASS'];
  const run = async (...args: string[]) => {
    try {
      await exec(keytool, args, { env });
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string };
      throw new ServiceError(
        'kafka',
        `generating the local CA failed (keytool ${args[0]}): ${e.stderr || e.stdout || e.message}`,
      );
    }
  };
  const store = (file: string) => ['-keystore', file, '-storetype', 'PKCS12', ...pass];
  const csr = path.join(tmp, 'broker.csr');
  const brokerPem = path.join(tmp, 'broker.pem');
  // RSA 2048: what every client (kafkajs on Node's TLS, the JVM clients of Spark) accepts.
  const key = ['-keyalg', 'RSA', '-keysize', '2048'];
  await run(
    '-genkeypair',
    '-alias',
    'ca',
    ...key,
    '-dname',
    'CN=EmoStream local CA',
    '-ext',
    'bc:c',
    '-validity',
    '3650',
    ...store(p.caKeystore),
  );
  await run('-exportcert', '-rfc', '-alias', 'ca', '-file', p.caFile, ...store(p.caKeystore));
  await run(
    '-genkeypair',
    '-alias',
    'broker',
    ...key,
    '-dname',
    'CN=localhost',
    '-validity',
    '825',
    ...store(p.keystoreFile),
  );
  await run('-certreq', '-alias', 'broker', '-file', csr, ...store(p.keystoreFile));
  await run(
    '-gencert',
    '-alias',
    'ca',
    '-infile',
    csr,
    '-outfile',
    brokerPem,
    '-rfc',
    '-validity',
    '825',
    '-ext',
    sanOf(host),
    '-ext',
    'eku=serverAuth',
    ...store(p.caKeystore),
  );
  await run('-importcert', '-noprompt', '-alias', 'ca', '-file', p.caFile, ...store(p.keystoreFile));
  await run('-importcert', '-alias', 'broker', '-file', brokerPem, ...store(p.keystoreFile));
  rmSync(csr);
  writeFileSync(p.complete, `generated ${new Date().toISOString()}\n`);
  renameSync(tmp, dir);
  return load(dir);
}

/** JAAS value of a SCRAM login (quotes and backslashes escaped, as the JAAS parser reads them). */
export function scramJaas(username: string, password: string): string {
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return `org.apache.kafka.common.security.scram.ScramLoginModule required username=${q(username)} password=${q(password)};`;
}

/** Where one broker listens; the controller listener stays PLAINTEXT on loopback. */
export interface SecureListener {
  host: string;
  port: number;
  controllerPort: number;
}

/**
 * server.properties entries (over kafka-broker.ts' defaults) of a broker whose clients and inter-broker traffic use
 * SASL_SSL with SCRAM-SHA-512, the broker logging in to itself as the admin principal.
 */
export function secureBrokerProperties(sec: LocalSecurity, l: SecureListener): Record<string, string> {
  const listeners = `SASL_SSL://${l.host}:${l.port},CONTROLLER://${l.host}:${l.controllerPort}`;
  const admin = sec.users.admin;
  return {
    listeners,
    'advertised.listeners': listeners,
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL',
    'inter.broker.listener.name': 'SASL_SSL',
    'sasl.enabled.mechanisms': SCRAM_MECHANISM,
    'sasl.mechanism.inter.broker.protocol': SCRAM_MECHANISM,
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': scramJaas(admin.username, admin.password),
    'ssl.keystore.type': 'PKCS12',
    'ssl.keystore.location': sec.keystoreFile,
    'ssl.keystore.password': sec.keystorePassword,
    'ssl.key.password': sec.keystorePassword,
    // The broker as a client of itself trusts the local CA (PEM truststores: Kafka 2.7+).
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': sec.caFile,
    'ssl.client.auth': 'none',
  };
}

/** `kafka-storage format` arguments that create every principal's SCRAM credential in the new cluster's metadata. */
export function scramFormatArgs(sec: LocalSecurity): string[] {
  return PRINCIPALS.flatMap((p) => {
    const { username, password } = sec.users[p];
    return ['--add-scram', `${SCRAM_MECHANISM}=[name=${username},password=${password}]`];
  });
}

/**
 * Checks that the Kafka storage at `logDir` (formatted with cluster `clusterId`) holds this security dir's SCRAM
 * users: a data dir formatted by an unsecured start has none, and the broker would refuse every client.
 */
export function assertScramCluster(sec: LocalSecurity, clusterId: string, logDir: string): void {
  const file = paths(sec.dir).scramCluster;
  const recorded = existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
  if (recorded !== clusterId) {
    throw new ServiceError(
      'kafka',
      `the Kafka data in ${logDir} was formatted without this stack's SCRAM users (it was last started without ` +
        '--secure): start once with --fresh (or `npm run reset`) to turn security on; that wipes the data dir',
    );
  }
}

/** Records that the storage of cluster `clusterId` was formatted with this security dir's SCRAM users. */
export function recordScramCluster(sec: LocalSecurity, clusterId: string): void {
  writeFileSync(paths(sec.dir).scramCluster, `${clusterId}\n`);
}

/** How `principal` connects: SASL_SSL, SCRAM-SHA-512, the local CA, its own password file; the registry user. */
export function clientSecurityOf(sec: LocalSecurity, principal: Principal): ClientSecurity {
  const user = sec.users[principal];
  const kafka: KafkaSecurity = {
    protocol: 'SASL_SSL',
    sasl: { mechanism: SCRAM_MECHANISM, ...user },
    caFile: sec.caFile,
  };
  return { kafka, registry: { ...sec.registry } };
}

/**
 * Writes the registry's basic-auth configuration (Quarkus embedded users, every path authenticated) into
 * `<security>/registry/config/application.properties`, which Quarkus reads from its working directory, so the
 * password is on no command line; returns that working directory.
 */
export function registryAuthDir(sec: LocalSecurity): string {
  const dir = paths(sec.dir).registryConfigDir;
  mkdirSync(path.join(dir, 'config'), { recursive: true, mode: 0o700 });
  const { username, password } = sec.registry;
  const propertyValue = (s: string) => s.replace(/\\/g, '\\\\');
  writeFileSync(
    path.join(dir, 'config', 'application.properties'),
    [
      '# Generated by EmoStream (--secure): HTTP basic auth on every path, one embedded user.',
      'quarkus.http.auth.basic=true',
      'quarkus.security.users.embedded.plain-text=true',
      `quarkus.security.users.embedded.users.${username}=${propertyValue(password)}`,
      `quarkus.security.users.embedded.roles.${username}=sr-admin`,
      'quarkus.http.auth.permission.authenticated.paths=/*',
      'quarkus.http.auth.permission.authenticated.policy=authenticated',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return dir;
}
