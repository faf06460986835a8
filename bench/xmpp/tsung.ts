/**
 * The Tsung side of the XMPP comparison: writes the scenario (one ts_jabber session type for every server),
 * runs `tsung start` on it, and reads the two logs Tsung leaves:
 *
 *  - tsung.log: per-interval `stats:` lines (the interval is set to 1 s here) with counts and means of every
 *    transaction and counter, used for rates (logins/s, deliveries/s), errors and user counts;
 *  - tsung-fullstats.log (backend="fullstats"): every individual sample, used for means and nearest-rank p99.
 *    Tsung itself prints no percentiles, so p99 is computed here from those raw samples.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { summary } from '../lib/stats.js';
import { run } from './proc.js';

/** What every server is put through. */
export interface Scenario {
  port: number;
  domain: string;
  /** Sessions started; session k logs in as a distinct account user<i> (1 ≤ i ≤ users). */
  users: number;
  /** New users per second (Tsung's arrivals are a Poisson process with this mean rate). */
  arrivalRate: number;
  /** Seconds each user stays online after its initial presence (its chats are spread over this time). */
  onlineSeconds: number;
  /** Chats each user sends to other online users. */
  chats: number;
  /** Chat body size in bytes (the stamp Tsung puts in for latency measurement is part of it). */
  chatSize: number;
  userPrefix: string;
  passwordPrefix: string;
  /** How long Tsung waits for an answer before counting error_timeout and ending that session. */
  idleTimeoutMs: number;
  /** Tsung's per-VM user limit (kept under the open-file limit). */
  maxUsers: number;
  /** Local addresses Tsung's users connect from, round-robin (all of 127/8 is loopback on Linux). */
  sourceAddresses: string[];
}

/** Seconds the arrival phase lasts: long enough for `users` Poisson arrivals (capped by maxnumber). */
export function arrivalSeconds(s: Scenario): number {
  const mean = s.users / s.arrivalRate;
  return Math.ceil(mean * 1.1 + 2);
}

/** Upper bound on Tsung's run time, for the watchdog. */
export function expectedSeconds(s: Scenario): number {
  return arrivalSeconds(s) + s.onlineSeconds + 3 * (s.idleTimeoutMs / 1000) + 30;
}

/** Where the tsung package put its DTD (the configuration is validated against it). */
export function findDtd(): string | null {
  for (const p of ['/usr/share/tsung/tsung-1.0.dtd', '/usr/local/share/tsung/tsung-1.0.dtd']) if (existsSync(p)) return p;
  return null;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The scenario as Tsung XML. Each acknowledged request names the reply that completes it (ack="parse" with a
 * regexp; ack="local" would take any first bytes, e.g. a stream header without its features), so a
 * transaction's time runs from sending the request to the matching reply:
 *   tr_connect  TCP connect + stream header → </stream:features>
 *   tr_auth     SASL PLAIN <auth/> → <success/> (a <failure/> aborts the session and counts as "match")
 *   tr_bind     stream restart → features, resource bind → jid, session → result
 *   tr_roster   roster get → result
 * then initial presence, `chats` chats to other online users (stamped, so the receiving Tsung user records
 * xmpp_msg_latency), unavailable presence and stream close.
 */
export function scenarioXml(s: Scenario, dtd: string): string {
  const gap = s.onlineSeconds / (s.chats + 1);
  const think = (sec: number): string => `<thinktime value="${Number(sec.toFixed(3))}" random="false"/>`;
  const req = (type: string, regexp: string, extra = ''): string =>
    `<request>${extra}<jabber type="${type}" ack="parse" regexp="${esc(regexp)}"/></request>`;
  const chatLoop =
    s.chats > 0
      ? `
      <for from="1" to="${s.chats}" incr="1" var="n">
        ${think(gap)}
        <transaction name="chat"><request><jabber type="chat" ack="no_ack" size="${s.chatSize}" destination="online" stamped="true"/></request></transaction>
      </for>`
      : '';
  return `<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "${dtd}">
<tsung loglevel="warning" version="1.0" backend="fullstats" dumptraffic="false">
  <clients>
    <client host="localhost" use_controller_vm="true" maxusers="${s.maxUsers}">
${s.sourceAddresses.map((a) => `      <ip value="${esc(a)}"/>`).join('\n')}
    </client>
  </clients>
  <servers>
    <server host="127.0.0.1" port="${s.port}" type="tcp"/>
  </servers>
  <load>
    <arrivalphase phase="1" duration="${arrivalSeconds(s)}" unit="second">
      <users arrivalrate="${s.arrivalRate}" unit="second" maxnumber="${s.users}"/>
    </arrivalphase>
  </load>
  <options>
    <option name="idle_timeout" value="${s.idleTimeoutMs}"/>
    <option name="connect_timeout" value="${s.idleTimeoutMs}"/>
    <option name="max_retries" value="0"/>
    <option type="ts_jabber" name="global_number" value="${s.users}"/>
    <option type="ts_jabber" name="userid_max" value="${s.users}"/>
    <option type="ts_jabber" name="domain" value="${esc(s.domain)}"/>
    <option type="ts_jabber" name="username" value="${esc(s.userPrefix)}"/>
    <option type="ts_jabber" name="passwd" value="${esc(s.passwordPrefix)}"/>
  </options>
  <sessions>
    <session probability="100" name="im" type="ts_jabber" bidi="true">
      <transaction name="connect">${req('connect', '</stream:features>')}</transaction>
      <transaction name="auth">${req('auth_sasl', '<success|<failure', '<match do="abort" when="match">&lt;failure</match>')}</transaction>
      <transaction name="bind">
        ${req('connect', '</stream:features>')}
        ${req('auth_sasl_bind', '</jid>|<error')}
        ${req('auth_sasl_session', `type=["'](result|error)["']`)}
      </transaction>
      <transaction name="roster">${req('iq:roster:get', `jabber:iq:roster|type=["']error["']`)}</transaction>
      <request><jabber type="presence:initial" ack="no_ack"/></request>${chatLoop}
      ${think(gap)}
      <request><jabber type="presence:final" ack="no_ack"/></request>
      <request><jabber type="close" ack="no_ack"/></request>
    </session>
  </sessions>
</tsung>
`;
}

/** Writes the scenario, runs Tsung on it and returns its log directory. */
export async function runTsung(s: Scenario, dir: string): Promise<{ logDir: string; ok: boolean; output: string; seconds: number }> {
  const dtd = findDtd();
  if (!dtd) throw new Error('tsung-1.0.dtd not found (is the tsung package installed?)');
  const xml = join(dir, 'scenario.xml');
  writeFileSync(xml, scenarioXml(s, dtd));
  const logRoot = join(dir, 'tsung-log');
  const t0 = Date.now();
  // HOME: Tsung keeps a ~/.tsung directory; give it the temp dir. ERL_FLAGS: 1 s statistics intervals, and
  // schedulers that sleep instead of spinning when idle, so the load generator leaves more CPU to the server.
  const erlFlags = '-tsung_controller dumpstats_interval 1000 +sbwt none +sbwtdcpu none +sbwtdio none';
  const r = await run('tsung', ['-n', '-f', xml, '-l', logRoot, 'start'], {
    env: { ...process.env, HOME: dir, ERL_FLAGS: erlFlags },
    cwd: dir,
    timeoutMs: expectedSeconds(s) * 1000,
  });
  const seconds = (Date.now() - t0) / 1000;
  const sub = existsSync(logRoot) ? readdirSync(logRoot).filter((d) => existsSync(join(logRoot, d, 'tsung.log'))) : [];
  const output = `${r.stdout}\n${r.stderr}`.trim();
  if (sub.length === 0) throw new Error(`tsung left no tsung.log (exit ${r.code ?? r.signal}${r.timedOut ? ', killed after timeout' : ''}):\n${output.slice(-2000)}`);
  return { logDir: join(logRoot, sub.sort().at(-1)!), ok: r.code === 0 && !r.timedOut, output, seconds };
}

/** One `stats:` line: interval figures (samples: count/mean/max/min; counters: count) and running totals. */
interface StatLine {
  count: number;
  mean: number;
  max: number;
  total: number;
}

/** tsung.log as a list of intervals, each with its dump time (unix seconds) and its stats lines. */
export function parseTsungLog(text: string): Array<{ t: number; stats: Map<string, StatLine> }> {
  const out: Array<{ t: number; stats: Map<string, StatLine> }> = [];
  for (const line of text.split('\n')) {
    const dump = /^# stats: dump at (\d+)/.exec(line);
    if (dump) {
      out.push({ t: Number(dump[1]), stats: new Map() });
      continue;
    }
    const m = /^stats: (\S+) (.*)$/.exec(line);
    if (!m || out.length === 0) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    // samples: count mean stddev max min globalmean globalcount; counters: count total
    const stat: StatLine = v.length >= 7 ? { count: v[0]!, mean: v[1]!, max: v[3]!, total: v[6]! } : { count: v[0]!, mean: Number.NaN, max: Number.NaN, total: v[1] ?? v[0]! };
    out.at(-1)!.stats.set(m[1]!, stat);
  }
  return out;
}

/** Every raw sample per name from tsung-fullstats.log (Erlang terms {sample,Name,Value|[Values]}). */
export function parseFullstats(text: string, names: readonly string[]): Map<string, number[]> {
  const wanted = new Set(names);
  const out = new Map<string, number[]>(names.map((n) => [n, []]));
  const re = /\{sample,\s*([a-z_]+),\s*(\[[^\]]*\]|[-+0-9.e]+)\s*\}/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (!wanted.has(m[1]!)) continue;
    const list = out.get(m[1]!)!;
    const raw = m[2]!;
    if (raw.startsWith('[')) {
      for (const x of raw.slice(1, -1).split(',')) {
        const n = Number(x.trim());
        if (x.trim() !== '' && Number.isFinite(n)) list.push(n);
      }
    } else list.push(Number(raw));
  }
  return out;
}

/** Mean and nearest-rank p99 of one transaction's samples (ms). */
export interface Timing {
  n: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

function timing(samples: number[]): Timing {
  const s = summary(samples, 2);
  const mean = samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : Number.NaN;
  return { n: s.n, mean: Math.round(mean * 100) / 100, p50: s.p50, p99: s.p99, max: s.max };
}

/** What one Tsung run measured. */
export interface TsungFigures {
  usersStarted: number;
  usersFinished: number;
  peakConnected: number;
  logins: number;
  authFailures: number;
  /** Successful logins per second between the first and the last 1-s interval that had one. */
  loginsPerSec: number;
  /** New users per second, counted the same way (the offered login rate as Tsung achieved it). */
  arrivalsPerSec: number;
  chatsSent: number;
  chatsDelivered: number;
  /** Deliveries per second between the first and the last 1-s interval that had one. */
  deliveredPerSec: number;
  connect: Timing;
  auth: Timing;
  bind: Timing;
  roster: Timing;
  messageLatency: Timing;
  tcpConnect: Timing;
  errors: Record<string, number>;
  errorTotal: number;
  /** Seconds from the first to the last statistics dump. */
  testSeconds: number;
  /** Disagreements between the two logs (sample counts), which would make means or p99 suspect. */
  warnings: string[];
}

const SAMPLE_NAMES = ['tr_connect', 'tr_auth', 'tr_bind', 'tr_roster', 'tr_chat', 'xmpp_msg_latency', 'connect'] as const;

/** Reads both logs of a finished run. */
export function readTsungResults(logDir: string): TsungFigures {
  const intervals = parseTsungLog(readFileSync(join(logDir, 'tsung.log'), 'utf8'));
  const full = existsSync(join(logDir, 'tsung-fullstats.log')) ? readFileSync(join(logDir, 'tsung-fullstats.log'), 'utf8') : '';
  const samples = parseFullstats(full, SAMPLE_NAMES);

  const sum = (name: string): number => intervals.reduce((a, iv) => a + (iv.stats.get(name)?.count ?? 0), 0);
  const lastTotal = (name: string): number => {
    for (let i = intervals.length - 1; i >= 0; i--) {
      const s = intervals[i]!.stats.get(name);
      if (s) return s.total;
    }
    return 0;
  };
  /** How many: the raw samples when Tsung wrote them (its per-interval statistics can lag behind under load). */
  const count = (name: string): number => samples.get(name)?.length || sum(name);
  /** Count per second over the span of the intervals in which `name` occurred. */
  const rate = (name: string, total = sum(name)): number => {
    let first = -1;
    let last = -1;
    intervals.forEach((iv, i) => {
      if ((iv.stats.get(name)?.count ?? 0) > 0) {
        if (first < 0) first = i;
        last = i;
      }
    });
    if (first < 0) return 0;
    const start = first > 0 ? intervals[first - 1]!.t : intervals[first]!.t - 1;
    const span = Math.max(1, intervals[last]!.t - start);
    return total / span;
  };
  const errors: Record<string, number> = {};
  for (const iv of intervals) for (const [name, s] of iv.stats) if (name.startsWith('error_')) errors[name] = (errors[name] ?? 0) + s.count;
  const warnings: string[] = [];
  for (const name of ['tr_connect', 'tr_auth', 'tr_bind', 'tr_roster', 'xmpp_msg_latency']) {
    const a = samples.get(name)!.length;
    const b = sum(name);
    if (a !== b) warnings.push(`${name}: ${a} raw samples, ${b} in tsung.log's interval statistics (Tsung's monitor lagging: it was short of CPU)`);
  }
  const peakConnected = intervals.reduce((m, iv) => Math.max(m, iv.stats.get('connected')?.total ?? 0), 0);

  return {
    usersStarted: lastTotal('users_count'),
    usersFinished: lastTotal('finish_users_count'),
    peakConnected,
    logins: count('tr_bind'),
    authFailures: sum('match'),
    loginsPerSec: Math.round(rate('tr_bind', count('tr_bind')) * 100) / 100,
    arrivalsPerSec: Math.round(rate('users_count') * 100) / 100,
    chatsSent: Math.max(0, count('tr_chat') - (errors['error_no_online'] ?? 0)),
    chatsDelivered: count('xmpp_msg_latency'),
    deliveredPerSec: Math.round(rate('xmpp_msg_latency', count('xmpp_msg_latency')) * 100) / 100,
    connect: timing(samples.get('tr_connect')!),
    auth: timing(samples.get('tr_auth')!),
    bind: timing(samples.get('tr_bind')!),
    roster: timing(samples.get('tr_roster')!),
    messageLatency: timing(samples.get('xmpp_msg_latency')!),
    tcpConnect: timing(samples.get('connect')!),
    errors,
    errorTotal: Object.entries(errors).reduce((a, [k, v]) => a + (k === 'error_no_online' ? 0 : v), 0),
    testSeconds: intervals.length > 1 ? intervals.at(-1)!.t - intervals[0]!.t : 0,
    warnings,
  };
}
