/**
 * Usage: messages per day (one-to-one and in rooms), active users, sessions by protocol, peak connections and new
 * accounts over the last 7, 30 or 90 days, and the live figures now.
 */
import { useState } from 'preact/hooks';
import type { Usage } from '../../client/admin.js';
import { BarChart } from './chart.js';
import { api } from './context.js';
import { Failure, Page, useLoad } from './ui.js';

const PROTOCOL_NAMES: Array<[string, string]> = [
  ['json', 'JSON'],
  ['xmpp-tcp', 'XMPP TCP'],
  ['xmpp-websocket', 'XMPP WebSocket'],
  ['xmpp-bosh', 'XMPP BOSH'],
  ['other', 'Other'],
];

/** The live figures: sessions, people online, sessions per protocol. */
export function LiveFigures({ now }: { now: Usage['now'] }) {
  return (
    <dl class="figures" aria-label="Now">
      <div>
        <dt>Sessions now</dt>
        <dd>{now.sessions}</dd>
      </div>
      <div>
        <dt>People online</dt>
        <dd>{now.onlineUsers}</dd>
      </div>
      {Object.entries(now.byProtocol).map(([p, n]) => (
        <div key={p}>
          <dt>{PROTOCOL_NAMES.find(([k]) => k === p)?.[1] ?? p}</dt>
          <dd>{n}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The usage page. */
export function UsagePage() {
  const [days, setDays] = useState(30);
  const usage = useLoad(() => api().usage(days), [days]);
  const u = usage.data;
  const labels = u?.days.map((d) => d.day) ?? [];
  const col = (f: (d: Usage['days'][number]) => number): number[] => u?.days.map(f) ?? [];
  return (
    <Page
      title="Usage"
      actions={
        <div class="row">
          <label for="usage-days">Period</label>
          <select id="usage-days" value={String(days)} onChange={(e) => setDays(Number(e.currentTarget.value))}>
            <option value="7">Last 7 days</option>
            <option value="30">Last 30 days</option>
            <option value="90">Last 90 days</option>
          </select>
        </div>
      }
    >
      <Failure error={usage.error} module="usage" />
      {u !== null && (
        <>
          <h2>Now</h2>
          <LiveFigures now={u.now} />
          <div class="charts">
            <BarChart id="chart-messages" title="Messages per day" labels={labels} series={[{ name: 'One-to-one', values: col((d) => d.messages) }, { name: 'In rooms', values: col((d) => d.roomMessages) }]} />
            <BarChart id="chart-active" title="Active users per day" labels={labels} series={[{ name: 'Active users', values: col((d) => d.activeUsers) }]} />
            <BarChart
              id="chart-sessions"
              title="Sessions per day by protocol"
              labels={labels}
              series={PROTOCOL_NAMES.map(([k, name]) => ({ name, values: col((d) => d.sessions[k] ?? 0) }))}
            />
            <BarChart id="chart-peak" title="Peak connections per day" labels={labels} series={[{ name: 'Peak connections', values: col((d) => d.peakConnections) }]} />
            <BarChart id="chart-new" title="New accounts per day" labels={labels} series={[{ name: 'New accounts', values: col((d) => d.newAccounts) }]} />
          </div>
        </>
      )}
    </Page>
  );
}
