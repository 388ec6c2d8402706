import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { useEffect, useRef, type ReactNode } from 'react';
import { VERIFY_CODES } from '../../../src/core/codes.js';
import type { Usage } from '../api.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

/** Green for allowed, reds for refused, ambers for limits: a code keeps its colour everywhere. */
const COLOURS: Record<string, string> = {
  VALID: '#15803d',
  RATE_LIMITED: '#d97706',
  USAGE_EXCEEDED: '#b45309',
  INSUFFICIENT_PERMISSIONS: '#b91c1c',
  IP_NOT_ALLOWED: '#9f1239',
  ENVIRONMENT_MISMATCH: '#7c3aed',
  EXPIRED: '#475569',
  DISABLED: '#1e293b',
  DELETED: '#0f172a',
  NOT_FOUND: '#64748b',
  MALFORMED: '#94a3b8',
};

/** Every day of the last `days`, oldest first, as YYYY-MM-DD (days without verifications count 0). */
function lastDays(days: number, now = Date.now()): string[] {
  const out: string[] = [];
  for (let i = days - 1; i >= 0; i--) out.push(new Date(now - i * 86_400_000).toISOString().slice(0, 10));
  return out;
}

/**
 * Verifications per day by outcome, a stacked bar chart (Chart.js on a canvas). The table beside
 * it carries the same numbers for screen readers.
 */
export function UsageChart({
  usage,
  days,
}: {
  usage: Pick<Usage, 'days' | 'totals'>;
  days: number;
}): ReactNode {
  const canvas = useRef<HTMLCanvasElement>(null);
  const codes = VERIFY_CODES.filter((c) => (usage.totals[c] ?? 0) > 0);
  useEffect(() => {
    if (canvas.current === null) return;
    const labels = lastDays(days);
    const byDay = new Map(usage.days.map((d) => [d.day, d.counts]));
    const present = VERIFY_CODES.filter((c) => (usage.totals[c] ?? 0) > 0);
    const config: ChartConfiguration<'bar'> = {
      type: 'bar',
      data: {
        labels: labels.map((d) => d.slice(5)),
        datasets: present.map((code) => ({
          label: code,
          data: labels.map((d) => byDay.get(d)?.[code] ?? 0),
          backgroundColor: COLOURS[code] ?? '#64748b',
        })),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: 'bottom' } },
      },
    };
    const chart = new Chart(canvas.current, config);
    return () => {
      chart.destroy();
    };
  }, [usage, days]);
  const total = Object.values(usage.totals).reduce((a, b) => a + b, 0);
  return (
    <figure className="chart">
      <div className="chart-box">
        <canvas
          ref={canvas}
          role="img"
          aria-label={`Verifications per day over the last ${days} days by outcome: ${total} in all`}
        />
      </div>
      <figcaption>
        {total === 0 ? (
          <span className="muted">No verifications in the last {days} days.</span>
        ) : (
          <table className="totals">
            <caption>Totals over {days} days</caption>
            <tbody>
              {codes.map((c) => (
                <tr key={c}>
                  <th scope="row">
                    <span className="swatch" style={{ background: COLOURS[c] }} aria-hidden="true" /> {c}
                  </th>
                  <td>{usage.totals[c]}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </figcaption>
    </figure>
  );
}
